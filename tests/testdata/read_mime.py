#!/usr/bin/env python3
"""Reads the messages named on the command line with Python's email package and prints, per
message, one JSON object of what a mail client would see: the decoded header fields, every
leaf part with its type, transfer encoding and decoded payload, the MIME tree, the longest
line, and every defect the parser found."""
import base64
import email
import email.policy
import json
import sys


def leaf(part):
    payload = part.get_payload(decode=True) or b""
    out = {
        "content_type": part.get_content_type(),
        "charset": part.get_content_charset(),
        "cte": (part.get("Content-Transfer-Encoding") or "").lower(),
        "disposition": part.get_content_disposition(),
        "filename": part.get_filename(),
        "content_id": part.get("Content-ID"),
        "payload_b64": base64.b64encode(payload).decode(),
    }
    if part.get_content_maintype() == "text":
        # The lines as a reader sees them (the wire's CRLF as newlines).
        out["text"] = part.get_content().replace("\r\n", "\n")
    return out


def tree(part):
    if part.is_multipart():
        return {part.get_content_type(): [tree(p) for p in part.iter_parts()]}
    return part.get_content_type()


def describe(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [type(d).__name__ for p in msg.walk() for d in p.defects]
    header_names = [k for k, _ in msg.raw_items()]
    raw_headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    mailboxes = lambda name: [[a.display_name, a.addr_spec] for a in msg[name].addresses] \
        if msg[name] is not None else []
    return {
        "subject": str(msg["subject"]) if msg["subject"] is not None else None,
        "from": mailboxes("from"),
        "to": mailboxes("to"),
        "reply_to": mailboxes("reply-to"),
        "date": msg["date"] is not None and msg["date"].datetime is not None,
        "message_id": str(msg["message-id"]) if msg["message-id"] else None,
        "mime_version": str(msg["mime-version"]) if msg["mime-version"] else None,
        "list_unsubscribe": str(msg["list-unsubscribe"]) if msg["list-unsubscribe"] else None,
        "list_unsubscribe_post":
            str(msg["list-unsubscribe-post"]) if msg["list-unsubscribe-post"] else None,
        "header_names": header_names,
        "raw_headers": raw_headers,
        "tree": tree(msg),
        "parts": [leaf(p) for p in msg.walk() if not p.is_multipart()],
        "max_line": max(len(line) for line in raw.split(b"\r\n")),
        "bare_lf": b"\n" in raw.replace(b"\r\n", b""),
        "defects": defects,
    }


def main():
    out = []
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            out.append(describe(f.read()))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
