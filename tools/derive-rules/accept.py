#!/usr/bin/python3
"""Turns reviewed deny candidates into the rules pack file packages/engine/rules/deny-derived.json.

Review policy: a candidate is accepted when the sink is at most two calls away (the callable itself, or a helper it
calls, runs the sink). Longer paths mostly run through dispatchers (torch.jit.script → annotation parsing → compile)
that a pickle cannot steer; they stay unlisted, hence Warning. Names already Alert in the pack are skipped
(pass their list as `already.txt`, one dotted name a line, produced by the pack's own classifier).

    /usr/bin/python3 tools/derive-rules/accept.py candidates.json already.txt > packages/engine/rules/deny-derived.json
"""
import json, re, sys

MAX_PATH = 3
# Loaders whose byte argument the scanner reads itself as a nested pickle (machine.ts DEFAULT_NESTED_LOADERS):
# torch pickles every CPU tensor through _load_from_bytes under plain pickle, so it stays Warning and is read.
READ_AS_NESTED = {"torch.storage._load_from_bytes"}


def rule(candidate):
    name, path = candidate["callable"], candidate["path"]
    return {
        "id": "deny-derived-" + re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-"),
        "match": name,
        "severity": 3,
        "reason": f"{name} {candidate['sink']} (reaches {' → '.join(path[1:])}).",
        "references": ["tools/derive-rules/candidates.json"],
    }


def main():
    candidates = json.load(open(sys.argv[1]))["deny_candidates"]
    already = set(open(sys.argv[2]).read().split()) if len(sys.argv) > 2 else set()
    accepted = [rule(c) for c in candidates if len(c["path"]) <= MAX_PATH and c["callable"] not in already
                and c["callable"] not in READ_AS_NESTED]
    json.dump({"description": "Alert (3): callables of trusted libraries that reach a sink (code execution, process "
               "creation, network, file writes/deletes, nested loads, imports by name, native libraries) within two "
               "calls, derived by tools/derive-rules/derive.py and reviewed by tools/derive-rules/accept.py.",
               "rules": accepted}, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
