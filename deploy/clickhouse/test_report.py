#!/usr/bin/env python3
"""The ClickHouse deployment checked with ClickHouse's own engine in-process (chdb):
schema.sql creates the table, the INSERT of ingest.sh loads helloscope's jsonl as it is, and
report.sql must give the clients, verdicts and stacks that `helloscope report` gives for the
records of the bundled captures (written by two sensors, so that sensors are kept apart).

    python3 deploy/clickhouse/test_report.py [path/to/helloscope]
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

import chdb
from chdb import session

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def helloscope_binary():
    if len(sys.argv) > 1:
        return sys.argv[1]
    for p in ("target/debug/helloscope", "target/release/helloscope"):
        if os.path.exists(os.path.join(ROOT, p)):
            return os.path.join(ROOT, p)
    sys.exit("test_report.py: build helloscope first (cargo build)")


def records(binary):
    """jsonl of the bundled captures under procore, as sensors gw1 and gw2 write it."""
    captures = sorted(glob.glob(os.path.join(ROOT, "captures", "*.pcap*")))
    assert captures, "bundled captures"
    out = b""
    for sensor in ("gw1", "gw2"):
        run = subprocess.run(
            [binary, "analyze", "--policy", "procore", "--format", "jsonl", "--sensor", sensor]
            + captures,
            capture_output=True,
            check=False,
        )
        assert run.returncode == 1, run.stderr  # some procore clients break
        out += run.stdout
    return out


def statements(path):
    text = open(path).read()
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def ingest_statement():
    """The INSERT of ingest.sh, as the shell script sends it."""
    script = open(os.path.join(HERE, "ingest.sh")).read()
    m = re.search(r'insert="([^"]*)"', script)
    assert m, "ingest.sh holds the INSERT"
    return m.group(1)


def parse_report(text):
    """`helloscope report`'s text: headline per profile, table rows, stacks."""
    lines = text.splitlines()
    headline = {}
    for l in lines:
        m = re.match(r"^(\S+): (\d+) clients? will break when .* \((\d+) already failing\)$", l)
        if m:
            headline[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    start = next(i for i, l in enumerate(lines) if l.startswith("VERDICT"))
    header = re.split(r"\s{2,}", lines[start])
    rows = []
    for l in lines[start + 1 :]:
        if not l:
            break
        cells = re.split(r"\s{2,}", l)
        cells += [""] * (len(header) - len(cells))
        rows.append(dict(zip(header, cells)))
    stacks = {}
    current = None
    for l in lines[lines.index("By TLS stack:") + 1 :]:
        if l.startswith("    what to change: "):
            stacks[current][2].append(l[len("    what to change: ") :])
            continue
        name, counts = l.strip().rsplit(": ", 1)
        m = re.match(r"(\d+) clients?, (\d+) below the minimum", counts)
        stacks[name] = [int(m.group(1)), int(m.group(2)), []]
        current = name
    return headline, rows, stacks


def main():
    binary = helloscope_binary()
    jsonl = records(binary)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "flows.jsonl")
        with open(path, "wb") as f:
            f.write(jsonl)
        run = subprocess.run([binary, "report", path], capture_output=True, text=True)
        assert run.returncode == 1, run.stderr
        headline, rows, stacks = parse_report(run.stdout)

        db = session.Session(os.path.join(tmp, "chdb"))
        for s in statements(os.path.join(HERE, "schema.sql")):
            db.query(s)
        db.query(ingest_statement() + "\n" + jsonl.decode())
        count = int(str(db.query("SELECT count() FROM helloscope.flows", "CSV")).strip())
        assert count == len(jsonl.splitlines()), (count, len(jsonl.splitlines()))

        q_headline, q_clients, q_stacks = statements(os.path.join(HERE, "report.sql"))

        def table(q):
            out = str(db.query(q, "TabSeparated"))
            return [l.split("\t") for l in out.splitlines() if l]

        sql_headline = {p: (int(n), int(f)) for p, n, f in table(q_headline)}
        assert sql_headline == headline, (sql_headline, headline)
        assert headline["procore"][0] > 0, headline

        expected = set()
        for r in rows:
            verdict, _, profile = r["VERDICT"].partition(" (")
            if verdict not in ("breaks", "failing"):
                continue
            expected.add(
                (verdict, profile.rstrip(")"), r["SENSOR"], r["CLIENT"], r["JA4"], r["STACK"],
                 r["HOST"], r["FLOWS"], r["FINDINGS"])
            )
        got = {tuple(r[:9]) for r in table(q_clients)}
        assert expected, "some clients break or fail"
        assert {e[2] for e in expected} == {"gw1", "gw2"}, "both sensors in the report"
        missing, extra = expected - got, got - expected
        assert not missing and not extra, f"missing from SQL: {missing}\nextra in SQL: {extra}"

        sql_stacks = {}
        for name, clients, below, remedies in table(q_stacks):
            remedies = eval_array(remedies)
            sql_stacks[name] = [int(clients), int(below), remedies]
        for s in stacks.values():
            s[2].sort()
        assert sql_stacks == stacks, (sql_stacks, stacks)
    print(
        f"deploy/clickhouse: chdb {chdb.__version__}: {count} records, "
        f"{len(expected)} clients that break or fail, {len(stacks)} stacks: same as helloscope report"
    )


def eval_array(text):
    """A ClickHouse Array(String) in TabSeparated (`['a','b']`) as a list."""
    text = text.strip()
    assert text.startswith("[") and text.endswith("]"), text
    items = re.findall(r"'((?:[^'\\]|\\.)*)'", text)
    return [re.sub(r"\\(.)", r"\1", i) for i in items]


if __name__ == "__main__":
    main()
