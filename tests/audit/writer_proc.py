"""A writer process for the multi-process and crash tests (``python -m tests.audit.writer_proc``).

Arguments: a JSON object ``{"store": URL, "key": PATH, "vkey": VKEY, "count": N, "group": K,
"tag": STR}``. Appends ``count`` decisions in groups of ``group`` (one ``append_drafts`` call
each, sequenced) and prints ``<index> <tag>:<group>:<k>`` for every acknowledged entry, flushed
at once, so a parent that kills this process knows exactly what was acknowledged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mondaytest.audit import LogConfig, WriterSettings, open_log

ORIGIN = "monday.test/audit/unit"


def main() -> None:
    args = json.loads(sys.argv[1])
    config = LogConfig(
        origin=ORIGIN,
        store_url=args["store"],
        base_dir=Path.cwd(),
        key=f"file:{args['key']}",
        vkey=args["vkey"],
        writer=WriterSettings(checkpoint_interval=float(args.get("interval", 0.05))),
    )
    out = sys.stdout
    group = int(args.get("group", 1))
    tag = args.get("tag", "w")
    with open_log(config) as log:
        for g in range(int(args["count"]) // group):
            drafts = [
                log.draft(
                    "decision",
                    {
                        "decision": "triage",
                        "outcome": {"tag": tag, "group": g, "k": k, "of": group},
                    },
                )
                for k in range(group)
            ]
            indexes = log.append_drafts(drafts, "sequenced")
            out.write("".join(f"{i} {tag}:{g}:{k}\n" for k, i in enumerate(indexes)))
            out.flush()


if __name__ == "__main__":
    main()
