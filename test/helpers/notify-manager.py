#!/usr/bin/env python3
# Plays systemd's manager end of the notify protocol, for tests: binds a datagram
# socket with SO_PASSCRED and prints one JSON line per message received, with the
# sender's pid and uid as the kernel stamped them (SCM_CREDENTIALS) and the receive
# time (ms since the epoch). Fds passed with SCM_RIGHTS (systemd-notify's BARRIER=1)
# are closed at once, as systemd does: that is what ends the sender's wait. A
# {"tick": ms} line every 100 ms gives tests the manager's own clock.
import json, os, select, socket, struct, sys, time

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
os.chmod(path, 0o777)  # a rootless supervisor (another uid) must reach it too
print(json.dumps({"listening": path}), flush=True)
CRED = struct.calcsize("3i")
last_tick = 0.0
while True:
    ready, _, _ = select.select([s, sys.stdin], [], [], 0.1)
    now = time.time() * 1000
    if sys.stdin in ready and not sys.stdin.buffer.read1(1):
        break  # the test is gone
    if s in ready:
        data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(CRED) + socket.CMSG_SPACE(4 * 16))
        pid = uid = None
        fds = 0
        for level, kind, body in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("3i", body[:CRED])
            elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                for i in range(len(body) // 4):
                    os.close(struct.unpack_from("i", body, 4 * i)[0])
                    fds += 1
        print(json.dumps({"at": now, "pid": pid, "uid": uid, "fds": fds, "msg": data.decode("utf-8", "replace")}), flush=True)
    if now - last_tick >= 100:
        last_tick = now
        print(json.dumps({"tick": now}), flush=True)
