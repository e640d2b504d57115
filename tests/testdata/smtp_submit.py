#!/usr/bin/python3
"""Submits one message to volleyd the way a platform's application does, with Python's smtplib:
STARTTLS (verified against the test CA) or implicit TLS, AUTH, MAIL/RCPT/DATA. Prints one JSON
line: what each step answered, and how long the AUTH step took (the tests measure the delay
after failed logins)."""
import argparse
import json
import smtplib
import ssl
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["starttls", "implicit", "plain"], required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--user", default="")
    p.add_argument("--password", default="")
    p.add_argument("--mechanism", default="", help="PLAIN or LOGIN (default: smtplib's choice)")
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--sender", default="app@client.test")
    p.add_argument("--to", default="r@example.test")
    p.add_argument("--logins", type=int, default=1, help="AUTH attempts on one connection each")
    args = p.parse_args()

    context = ssl.create_default_context(cafile=args.ca)
    out = {"auth": [], "auth_seconds": []}
    for attempt in range(args.logins):
        if args.mode == "implicit":
            s = smtplib.SMTP_SSL("127.0.0.1", args.port, source_address=(args.source, 0),
                                 context=context, timeout=60)
        else:
            s = smtplib.SMTP("127.0.0.1", args.port, source_address=(args.source, 0), timeout=60)
        s.ehlo("app.client.test")
        if args.mode == "starttls":
            code, _ = s.starttls(context=context)
            out["starttls"] = code
            s.ehlo("app.client.test")
            out["tls"] = s.sock.version()
        elif args.mode == "implicit":
            out["tls"] = s.sock.version()
        if args.user:
            start = time.monotonic()
            try:
                if args.mechanism:
                    s.user, s.password = args.user, args.password
                    auth = getattr(s, "auth_" + args.mechanism.lower())
                    code, text = s.auth(args.mechanism, auth, initial_response_ok=False)
                else:
                    code, text = s.login(args.user, args.password)
                out["auth"].append([code, text.decode()])
            except smtplib.SMTPAuthenticationError as e:
                out["auth"].append([e.smtp_code, e.smtp_error.decode()])
            out["auth_seconds"].append(time.monotonic() - start)
        if attempt + 1 < args.logins:
            s.quit()
            continue
        code, text = s.mail(args.sender)
        out["mail"] = [code, text.decode()]
        if code == 250:
            code, text = s.rcpt(args.to)
            out["rcpt"] = [code, text.decode()]
            if code == 250:
                code, text = s.data(b"Subject: from smtplib\r\n\r\nhello from the platform\r\n")
                out["data"] = [code, text.decode()]
        try:
            s.quit()
        except smtplib.SMTPServerDisconnected:
            pass
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
