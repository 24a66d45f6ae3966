#!/usr/bin/python3
"""Writes each file's measured severity into the benign breadth manifest, with the reason of every Warning/Alert
(the names behind it), from a `modelvet scan --format json` report on the set's files/ folder:

    node packages/cli/bin/modelvet.js scan --format json packages/engine/test/benign-breadth/files > /tmp/r.json
    /usr/bin/python3 tools/benign-breadth/justify.py packages/engine/test/benign-breadth /tmp/r.json
"""
import json, sys

# Known causes of a remaining Warning, by the name behind it: none left. Protocol 2's `_codecs.encode(<str>,
# 'latin1')` payloads are now read as nested pickles, and protocols 2-3's keyword construction
# `functools.partial(cls.__new__, cls, ...)` is judged by its class.
REASONS: dict[str, str] = {}
root, report = sys.argv[1], json.load(open(sys.argv[2]))
measured = {f["path"].split("/files/", 1)[1]: f for f in report["file_security_reports"]}
manifest = json.load(open(f"{root}/manifest.json"))
for entry in manifest["files"]:
    found = measured.get(entry["path"][len("files/"):])
    entry["expected_severity"] = found["severity"] if found else 1
    entry.pop("note", None)
    entry["expected_globals"] = []
    if found and found["severity"] > 1:
        names = sorted({f"{d['module']}.{d['name']}" for d in found["unsafe_dependencies"] if d["severity"] > 1})
        why = [REASONS[k] for k in REASONS if any(n.endswith(k) for n in names)]
        entry["expected_globals"] = names
        entry["note"] = "; ".join(why) or f"{', '.join(names)}: library not on the allow list (unvetted, Warning)"
json.dump(manifest, open(f"{root}/manifest.json", "w"), indent=1)
