#!/usr/bin/env python3
"""Prints the shell command that runs one service of the rendered compose stack on this machine.

Reads `docker-compose config` output (YAML) on stdin and prints, for the service named by the
first argument, `env -i PATH=… HOME=… KEY=VALUE … <binary> <command…>`: the service's own
command and environment, exactly, except for what only the compose network provides. Host names
of the stack's services become 127.0.0.1 (`postgres`, `redis`, `emulator`, `api`), addresses
bound on 0.0.0.0 are bound on 127.0.0.1, the database gets a name of its own, the Redis keys a
prefix of their own, and the emulator's `/data` volume a directory of its own. Replica N > 0 of
a service serves its health port one higher per replica (containers each have their own).

Usage: compose_commands.py SERVICE BINARY DATABASE PREFIX DATA_DIR [REPLICA] < rendered.yml
       compose_commands.py --replicas SERVICE < rendered.yml
"""

import os
import re
import shlex
import sys

import yaml


def localise(value, database, data_dir):
    value = str(value)
    value = re.sub(r"@postgres:5432/[A-Za-z0-9_]+", f"@127.0.0.1:5432/{database}", value)
    for host in ("redis", "emulator", "api"):
        value = re.sub(rf"(//){host}:", r"\g<1>127.0.0.1:", value)
    value = value.replace("0.0.0.0:", "127.0.0.1:")
    if value.startswith("/data/") or "=/data/" in value:
        value = value.replace("/data/", f"{data_dir}/")
    return value


def main():
    rendered = yaml.safe_load(sys.stdin)
    services = rendered["services"]
    if sys.argv[1] == "--replicas":
        service = services[sys.argv[2]]
        print(service.get("deploy", {}).get("replicas", 1))
        return
    name, binary, database, prefix, data_dir = sys.argv[1:6]
    replica = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    service = services[name]
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env = {key: localise(value if value is not None else "", database, data_dir)
           for key, value in environment.items()}
    if any(key.startswith("GRAPHHOOK__") for key in env):
        env["GRAPHHOOK__REDIS__KEY_PREFIX"] = prefix
    if replica and "GRAPHHOOK__WORKER__LISTEN" in env:
        host, port = env["GRAPHHOOK__WORKER__LISTEN"].rsplit(":", 1)
        env["GRAPHHOOK__WORKER__LISTEN"] = f"{host}:{int(port) + replica}"
    command = service.get("command") or []
    if isinstance(command, str):
        command = shlex.split(command)
    args = [localise(arg, database, data_dir) for arg in command]
    words = ["env", "-i", f"PATH={os.environ['PATH']}", f"HOME={os.environ.get('HOME', '/')}"]
    words += [f"{key}={value}" for key, value in sorted(env.items())]
    words += [binary] + args
    print(" ".join(shlex.quote(word) for word in words))


if __name__ == "__main__":
    main()
