#!/usr/bin/python3
"""Folds the allow candidates of a partial derivation (derive.py run on the libraries named) into candidates.json:
classes of those libraries only, whose construction and pickle hooks reached no sink in that run. Deny candidates
are left as the full run found them.

    /usr/bin/python3 tools/derive-rules/derive.py 600 /tmp/part.json gensim,nltk,imblearn,numpy,scipy,sklearn,joblib
    /usr/bin/python3 tools/derive-rules/merge-allow.py tools/derive-rules/candidates.json /tmp/part.json gensim,nltk,imblearn
"""
import json, sys

full_path, part_path, added = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
full, part = json.load(open(full_path)), json.load(open(part_path))
keep = [c for c in full["allow_candidates"] if c["class"].split(".")[0] not in added]
new = [c for c in part["allow_candidates"] if c["class"].split(".")[0] in added]
full["allow_candidates"] = sorted(keep + new, key=lambda c: c["class"])
for name in added:
    if name in part["libraries"]:
        full["libraries"][name] = part["libraries"][name]
json.dump(full, open(full_path, "w"), indent=1)
print(f"{len(new)} allow candidates of {', '.join(added)} merged", file=sys.stderr)
