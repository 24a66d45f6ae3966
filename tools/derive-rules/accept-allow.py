#!/usr/bin/python3
"""Accepts allow candidates of derive.py that real library output uses: a class is allowed when the derivation
found no sink in its constructor and pickle hooks AND a file of the benign breadth set imports it. Classes only.

    /usr/bin/python3 tools/derive-rules/accept-allow.py candidates.json benign/manifest.json > allow-derived.json
"""
import json, re, sys

candidates = {c["class"]: c for c in json.load(open(sys.argv[1]))["allow_candidates"]}
observed = sorted({g for e in json.load(open(sys.argv[2]))["files"] for g in e.get("observed_globals", [])})
rules = []
for name in observed:
    c = candidates.get(name)
    if not c:
        continue
    hooks = ", ".join(h.rsplit(".", 1)[1] for h in c["hooks"]) or "inherited hooks"
    rules.append({"id": "allow-derived-" + re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-"), "match": name,
                  "severity": 1, "reason": f"Class whose construction and pickle hooks ({hooks}) reach no sink "
                  "(tools/derive-rules/derive.py); seen in real library output (benign breadth set).",
                  "references": ["tools/derive-rules/candidates.json"]})
json.dump({"description": "Pass (1): classes of scientific libraries proposed by tools/derive-rules/derive.py (no sink "
           "reached from construction, __setstate__ or __reduce__) and accepted because real library output pickles "
           "them. Functions are never bulk-allowed.", "rules": rules}, sys.stdout, indent=2)
sys.stdout.write("\n")
