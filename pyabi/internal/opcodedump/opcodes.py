import json, opcode, sys
names = [None] * 256
for name, op in opcode.opmap.items():
    if op < 256:
        names[op] = name
try:
    import dis
    for name, op in getattr(dis, "_all_opmap", {}).items():
        if op < 256 and names[op] is None:
            names[op] = name
except Exception:
    pass
for name, op in getattr(opcode, "_specialized_opmap", {}).items():
    if op < 256:
        names[op] = name
base = {}
for b, fam in getattr(opcode, "_specializations", {}).items():
    for s in fam:
        base[s] = b
print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3], "names": names, "base": base}))
