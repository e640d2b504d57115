"""Reads a delivery notice (or any report) with Python's email package, the way a platform's
bounce processor would, and prints what it found as one JSON object: the top-level type and
report-type, each part's type, the delivery-status groups as field maps, the returned message's
header fields and whether its body came back, and the parser's defects."""
import email
import email.policy
import json
import sys

with open(sys.argv[1], "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.compat32)

out = {
    "content_type": msg.get_content_type(),
    "report_type": msg.get_param("report-type"),
    "from": msg.get("From"),
    "to": msg.get("To"),
    "subject": msg.get("Subject"),
    "auto_submitted": msg.get("Auto-Submitted"),
    "parts": [],
    "groups": [],
    "returned_headers": {},
    "returned_body": "",
    "defects": [type(d).__name__ for d in msg.defects],
}
if msg.is_multipart():
    for part in msg.get_payload():
        ctype = part.get_content_type()
        out["parts"].append(ctype)
        out["defects"] += [type(d).__name__ for d in part.defects]
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            for group in part.get_payload():
                out["groups"].append({k: v for k, v in group.items()})
        elif ctype == "text/rfc822-headers":
            returned = email.message_from_string(part.get_payload())
            out["returned_headers"] = {k: v for k, v in returned.items()}
        elif ctype == "message/rfc822":
            returned = part.get_payload()[0]
            out["returned_headers"] = {k: v for k, v in returned.items()}
            out["returned_body"] = returned.get_payload()
print(json.dumps(out))
