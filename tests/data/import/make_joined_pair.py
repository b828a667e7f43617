#!/usr/bin/env python3
"""Writes joined_eslogger.jsonl and joined_log_stream.txt: an eslogger capture and a
`log stream` excerpt of an NEFilterDataProvider from the same (invented) Mac, written by hand
for tests. The filter logs curl's second flow after curl (pid 700) exited and pid 700 was
reused by /tmp/evil: the flow names the pid and curl's sourceAppIdentifier."""
import json

def token(pid, ver, uid=501):
    return {"auid": uid, "euid": uid, "egid": 20, "ruid": uid, "rgid": 20, "pid": pid,
            "asid": 100010, "pidversion": ver}

def proc(pid, ver, ppid, pver, path, signing_id, team_id=None, platform=False, cdhash="11" * 20):
    return {"audit_token": token(pid, ver), "parent_audit_token": token(ppid, pver),
            "responsible_audit_token": token(pid, ver), "ppid": ppid, "original_ppid": ppid,
            "group_id": pid, "session_id": 500,
            "executable": {"path": path, "path_truncated": False},
            "cdhash": cdhash, "signing_id": signing_id, "team_id": team_id,
            "is_platform_binary": platform, "is_es_client": False,
            "codesigning_flags": 570506001 if not platform else 637534225,
            "start_time": "2024-03-01T10:00:00.000000Z", "tty": None}

zsh = proc(500, 5000, 1, 1, "/bin/zsh", "com.apple.zsh", platform=True, cdhash="a1" * 20)
seq = [0]
def event(t, etype, process, body):
    seq[0] += 1
    return {"schema_version": 1, "version": 7, "event_type": etype, "time": t,
            "mach_time": 1000 + seq[0], "seq_num": seq[0], "global_seq_num": seq[0],
            "thread": {"thread_id": 77}, "action_type": 1, "process": process, "event": body}

child = proc(700, 7000, 500, 5000, "/bin/zsh", "com.apple.zsh", platform=True, cdhash="a1" * 20)
curl = proc(700, 7001, 500, 5000, "/usr/bin/curl", "com.apple.curl", platform=True, cdhash="c1" * 20)
child2 = proc(700, 7100, 500, 5000, "/bin/zsh", "com.apple.zsh", platform=True, cdhash="a1" * 20)
evil = proc(700, 7101, 500, 5000, "/tmp/evil", "evil", team_id=None, cdhash="e1" * 20)
bchild = proc(710, 7200, 500, 5000, "/bin/zsh", "com.apple.zsh", platform=True, cdhash="a1" * 20)
browser = proc(710, 7201, 500, 5000, "/Applications/Browser.app/Contents/MacOS/Browser",
               "com.example.Browser", team_id="ABCDE12345", cdhash="b1" * 20)
events = [
    event("2024-03-01T10:00:01.000Z", 11, zsh, {"fork": {"child": child}}),
    event("2024-03-01T10:00:01.100Z", 9, child, {"exec": {"target": curl}}),
    event("2024-03-01T10:00:01.300Z", 15, curl, {"exit": {"stat": 0}}),
    event("2024-03-01T10:00:01.400Z", 11, zsh, {"fork": {"child": child2}}),
    event("2024-03-01T10:00:01.450Z", 9, child2, {"exec": {"target": evil}}),
    event("2024-03-01T10:00:02.000Z", 11, zsh, {"fork": {"child": bchild}}),
    event("2024-03-01T10:00:02.050Z", 9, bchild, {"exec": {"target": browser}}),
]
with open("joined_eslogger.jsonl", "w") as f:
    for e in events:
        f.write(json.dumps(e, separators=(",", ":")) + "\n")

def flow(ts, ident, pid, app, port):
    head = (f"{ts}+0000 0x4a1     Debug       0x0                  302    0    "
            "com.example.Filter.Extension: (NetworkExtension) [com.apple.networkextension:] "
            "Handling new flow:\n")
    return head + "".join(f"        {k} = {v}\n" for k, v in [
        ("identifier", ident), ("sourceAppIdentifier", app), ("procPID", pid),
        ("eprocPID", pid), ("direction", "outbound"), ("localEndpoint", f"192.168.1.20:{port}"),
        ("remoteEndpoint", "93.184.216.34:443"), ("protocol", 6), ("family", 2), ("type", 1)])

with open("joined_log_stream.txt", "w") as f:
    f.write("Filtering the log data using \"subsystem == \\\"com.apple.networkextension\\\"\"\n")
    f.write(flow("2024-03-01 10:00:01.200000", "AAAAAAAA-0000-0000-0000-000000000001", 700,
                 ".com.apple.curl", 50001))
    f.write(flow("2024-03-01 10:00:01.600000", "AAAAAAAA-0000-0000-0000-000000000002", 700,
                 ".com.apple.curl", 50002))
    f.write(flow("2024-03-01 10:00:02.500000", "AAAAAAAA-0000-0000-0000-000000000003", 710,
                 "ABCDE12345.com.example.Browser", 50003))
