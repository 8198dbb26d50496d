"""After a fuzz run: every record in the log belongs to a write answered 2xx.

Reads the HAR file schemathesis wrote (every request and response), collects
the log positions that 2xx write answers list in their `events`, and pages
through the log: a record at any other position (request receipts excepted:
each one sits in the same append as the events it names) was written by a
request that was refused. Also asks /v1/verify.
    check_log.py BASE TOKEN HAR
"""
import json
import sys
import urllib.request

base, token, har_path = sys.argv[1], sys.argv[2], sys.argv[3]


def get(path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


with open(har_path, encoding="utf-8") as f:
    har = json.load(f)
accepted = set()
writes = refused = 0
for entry in har["log"]["entries"]:
    if entry["request"]["method"] != "POST":
        continue
    writes += 1
    status = entry["response"]["status"]
    if not 200 <= status < 300:
        refused += 1
        continue
    text = entry["response"].get("content", {}).get("text") or "{}"
    try:
        body = json.loads(text)
    except ValueError:
        print(f"check_log: a 2xx write answered something that is not JSON: {text[:200]!r}")
        sys.exit(1)
    for event in body.get("events", []):
        accepted.add(event["position"])

stray = []
records = receipts = 0
position = 1
while True:
    page = get(f"/v1/log?from={position}&limit=1000")
    for record in page["records"]:
        records += 1
        if record["type"] == "RequestReceipt":
            receipts += 1
        elif record["position"] not in accepted:
            stray.append(record)
    if page["next"] is None:
        break
    position = page["next"]

verify = get("/v1/verify")
print(f"check_log: {writes} writes sent ({refused} refused), {records} records in the log ({receipts} receipts), verify intact: {verify['intact']}")
if stray:
    for record in stray[:10]:
        print(f"check_log: record {record['position']} ({record['type']} on {record['stream']}) belongs to no accepted write")
    sys.exit(1)
if not verify["intact"]:
    print(f"check_log: verify found {verify['problems'][:3]}")
    sys.exit(1)
