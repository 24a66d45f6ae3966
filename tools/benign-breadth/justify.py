#!/usr/bin/python3
"""Writes each file's measured severity into the benign breadth manifest, with the reason of every Warning/Alert
(the names behind it), from a `modelvet scan --format json` report on the set's files/ folder:

    node packages/cli/bin/modelvet.js scan --format json packages/engine/test/benign-breadth/files > /tmp/r.json
    /usr/bin/python3 tools/benign-breadth/justify.py packages/engine/test/benign-breadth /tmp/r.json
"""
import json, sys

REASONS = {
    "functools.partial": "protocols 2-3 spell keyword construction as functools.partial(Symbol.__new__, Symbol, name, "
                         "**assumptions); partial is Warning by policy (it defers a call the scan cannot follow to its "
                         "end); protocols 4-5 of the same object pass",
    "torch.storage._load_from_bytes": "protocol 2 spells bytes as _codecs.encode(<str>, 'latin1'), a computed value: "
                                      "the nested torch payload is not a literal the scan can read as a file, so the "
                                      "nested load stays Warning (protocols 3-5 of the same tensors are read and pass)",
}
root, report = sys.argv[1], json.load(open(sys.argv[2]))
measured = {f["path"].split("/files/", 1)[1]: f for f in report["file_security_reports"]}
manifest = json.load(open(f"{root}/manifest.json"))
for entry in manifest["files"]:
    found = measured.get(entry["path"][len("files/"):])
    entry["expected_severity"] = found["severity"] if found else 1
    entry.pop("note", None)
    if found and found["severity"] > 1:
        names = sorted({f"{d['module']}.{d['name']}" for d in found["unsafe_dependencies"] if d["severity"] > 1})
        why = [REASONS[k] for k in REASONS if any(n.endswith(k) for n in names)]
        entry["expected_globals"] = names
        entry["note"] = "; ".join(why) or f"{', '.join(names)}: library not on the allow list (unvetted, Warning)"
json.dump(manifest, open(f"{root}/manifest.json", "w"), indent=1)
