"""Parse mail messages with Python's email package, independently of the
send guard, and print what a reader finds in each as JSON lines.

Usage: python3 pyemail.py FILE...

For each file: {"name", "recipients", "texts", "tokens"} or {"name",
"error"}. recipients are the addr-specs of To, Cc, Bcc and Resent-*;
texts are the decoded text parts (get_content); tokens are the candidate
tokens found in the texts and the Subject after Python's own decoding of
HTML references, tags, invisible characters and percent-encoding."""

import email
import email.policy
import html
import json
import re
import sys
import unicodedata
import urllib.parse

FIELDS = ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"]
CANDIDATE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def recipients(msg):
    out = []
    for name in FIELDS:
        for value in msg.get_all(name) or []:
            for addr in value.addresses:
                out.append(addr.addr_spec)
    return out


def texts(msg):
    out = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        out.append(part.get_content())
    return out


def readings(text):
    """The text, then decoded as a browser and a link would be, in rounds."""
    seen = [text]
    t = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    t = re.sub(r"<[^>]*>", "", t)
    t = html.unescape(t)
    t = "".join(c for c in t if unicodedata.category(c) != "Cf")
    attrs = " ".join(html.unescape(v) for v in re.findall(r"=\s*[\"']([^\"']*)[\"']", text))
    for s in (t, attrs):
        for _ in range(8):
            seen.append(s)
            u = urllib.parse.unquote(s)
            u = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), u)
            u = u.replace("\\/", "/")
            if u == s:
                break
            s = u
    return seen


def main():
    for path in sys.argv[1:]:
        name = path.rsplit("/", 1)[-1]
        try:
            with open(path, "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            ts = texts(msg)
            tokens = set()
            for t in ts + [str(msg.get("subject", ""))]:
                for r in readings(t):
                    tokens.update(CANDIDATE.findall(r))
            print(json.dumps({"name": name, "recipients": recipients(msg), "texts": ts, "tokens": sorted(tokens)}))
        except Exception as e:  # the guard's answer is compared only where Python reads the message
            print(json.dumps({"name": name, "error": "%s: %s" % (type(e).__name__, e)}))


if __name__ == "__main__":
    main()
