"""`make demo` summary of `voterfile_match`: match rate, precision and recall against the seed's
ground truth (demo.voterfile_signups_truth), read from the published table in the `civis` DB."""

from __future__ import annotations

OUTPUT = "demo.voterfile_signups_matched"  # the DAG's default output table
INPUT = "demo.voterfile_signups"
TRUTH = "demo.voterfile_signups_truth"


def figures(output: str = OUTPUT, input_table: str = INPUT, truth: str = TRUTH,
            dsn: str | None = None) -> dict[str, float | int]:
    import psycopg
    from psycopg import sql

    if dsn is None:
        from devstack import postgres

        dsn = postgres.dsn("civis")

    def ident(name: str) -> sql.Composable:
        return sql.Identifier(*name.split("."))

    query = sql.SQL(
        "SELECT (SELECT COUNT(*) FROM {inp}) AS rows, COUNT(o.id) AS matched, "
        "COUNT(o.id) FILTER (WHERE o.person_id = t.person_id) AS correct, "
        "(SELECT COUNT(*) FROM {truth} WHERE person_id IS NOT NULL AND id IN "
        "(SELECT id FROM {inp})) AS on_file "
        "FROM {out} o JOIN {truth} t ON t.id = o.id"
    ).format(inp=ident(input_table), truth=ident(truth), out=ident(output))
    with psycopg.connect(dsn) as conn:
        rows, matched, correct, on_file = conn.execute(query).fetchone()
    return {"rows": rows, "matched": matched, "correct": correct, "on_file": on_file,
            "match_rate": matched / rows if rows else 0.0,
            "precision": correct / matched if matched else 0.0,
            "recall": correct / on_file if on_file else 0.0}


def summary() -> str:
    f = figures()
    return (f"{f['matched']:,} of {f['rows']:,} rows matched (match rate {f['match_rate']:.1%}), "
            f"precision {f['precision']:.1%}, recall {f['recall']:.1%} against ground truth")
