#!/usr/bin/env python3
"""Checks the links of README.md and the book (docs/src): every relative link names a file
that exists, every #anchor a heading of its page (as mdbook makes the ids), and every page
of docs/src is in SUMMARY.md. Prints the broken ones; exit 1 if any.
Usage: scripts/check-links.py [ROOT]"""
import re
import sys
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
pages = [root / "README.md"] + sorted((root / "docs/src").glob("*.md"))
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def strip_code(text):
    """The text without fenced blocks and code spans (their brackets are not links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(page):
    """The ids mdbook gives the headings of `page`."""
    ids, seen = set(), {}
    for line in strip_code(page.read_text()).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"<[^>]+>", "", m.group(1))
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
        base = "".join(c for c in text.lower().replace(" ", "-") if c.isalnum() or c in "-_")
        n = seen.get(base, 0)
        seen[base] = n + 1
        ids.add(base if n == 0 else f"{base}-{n}")
    return ids


broken = []
for page in pages:
    for target in LINK.findall(strip_code(page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{page.relative_to(root)}: {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{page.relative_to(root)}: {target}: no such heading")

summary = (root / "docs/src/SUMMARY.md").read_text()
listed = set(re.findall(r"\]\(([^)#]+\.md)\)", summary))
for page in sorted((root / "docs/src").glob("*.md")):
    if page.name != "SUMMARY.md" and page.name not in listed:
        broken.append(f"docs/src/{page.name}: not in SUMMARY.md")

for b in broken:
    print(f"broken link: {b}")
print(f"{len(pages)} pages checked, {len(broken)} broken")
sys.exit(1 if broken else 0)
