"""Civis Data Match and CASS/NCOA for the Civis stand-in (a plug-in of devstack/civis_standin.py).

Routes (the spec's request and response shapes): `POST /enhancements/civis-data-match/`,
`GET /enhancements/civis-data-match/{id}`, `POST|GET .../{id}/runs`, `GET|DELETE
.../{id}/runs/{run_id}`, and the same under `/enhancements/cass-ncoa`. Runs are driven runs of the
stand-in (queued -> running -> succeeded/failed; the generic `/jobs/{id}/runs...` endpoints see
them too) that really work on the devstack PostgreSQL database `civis`:

**Civis Data Match** reads `inputTable` through `inputFieldMapping` (Civis's keys:
`primary_key`, `first_name`, `middle_name`, `last_name`, `phone`, `email`, `full_address` or
`house_number` + `street`, `unit`, `city`, `state_code`, `zip`, `birth_date` or
`birth_year`/`birth_month`/`birth_day`, `gender`), scores every row against the seeded
`public.voterfile` (match target `MATCH_TARGET_ID`) and writes `outputTable` with one row per
candidate, best first, at most `maxMatches` per source row and only scores >= `threshold`:
`source_id`, `person_id`, `voterbase_id`, `score`, `match_rank`. Scoring is deterministic on
normalised values: last name 0.20 (0.12 one typo away), first name 0.15 (nicknames equal; 0.08
one typo away or same initial + 3 letters), house number and street 0.20, zip 0.10, birth date
0.20 (year only 0.05), phone 0.20, e-mail 0.20; capped at 1.

**CASS/NCOA** reads `source.databaseTable` (rows limited by `limitingSQL`, the API's WHERE
clause without WHERE) through `columnMapping` (`address1`, `address2`, `city`, `state`, `zip`,
`name`), standardises the address (upper case, USPS suffix and direction abbreviations, 5-digit
zip) and, with `performNcoa`, replaces a moved person's address by the forwarding address in the
seeded `public.ncoa_moves`. It writes `destination.databaseTable`: the `multipartKey` columns and
`cass_address1`, `cass_address2`, `cass_city`, `cass_state`, `cass_zip`, `ncoa_moved`,
`cass_status` (`standardised`, `moved`, `no_address`).

**Match targets** (`GET /match_targets`, `GET /match_targets/{id}`, the spec's `Matchtarget`
shape): `MATCH_TARGETS`, i.e. target `MATCH_TARGET_ID` (1), the seeded voterfile, and an archived
one (2) that Data Match refuses, like a retired file.

`install(app)` also seeds the voterfile in the background (devstack.seed_voterfile) so `make
demo` finds it.
"""

# Identifiers are validated (IDENTIFIER) and quoted; values are bound or int/float-formatted.
# ruff: noqa: S608
from __future__ import annotations

import re
import sys
import threading
import time
from collections import defaultdict
from typing import Any

from devstack import civis_standin as cs
from devstack.seed_voterfile import MATCH_TARGET_ID, NICKNAMES

DATA_MATCH = "civis_data_match"
CASS_NCOA = "cass_ncoa"
MIN_RUNNING_SECONDS = 1.0
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

STREET_WORDS = {
    "STREET": "ST", "AVENUE": "AVE", "ROAD": "RD", "LANE": "LN", "DRIVE": "DR", "COURT": "CT",
    "BOULEVARD": "BLVD", "PLACE": "PL", "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "APARTMENT": "APT", "SUITE": "STE",
}
FORMAL = {nick.upper(): formal.upper() for formal, nick in NICKNAMES.items()}
# The account's match targets (the spec's Matchtarget, camelCase). Only an active one matches.
_TARGETS_CREATED = "2026-01-05T15:00:00.000Z"
MATCH_TARGETS: tuple[dict[str, Any], ...] = (
    {"id": MATCH_TARGET_ID, "name": "Voterfile (devstack public.voterfile)",
     "targetFileName": "devstack_voterfile", "createdAt": _TARGETS_CREATED,
     "updatedAt": _TARGETS_CREATED, "archived": False},
    {"id": 2, "name": "Voterfile 2024 (retired)", "targetFileName": "devstack_voterfile_2024",
     "createdAt": _TARGETS_CREATED, "updatedAt": _TARGETS_CREATED, "archived": True},
)
ACTIVE_TARGETS = frozenset(int(t["id"]) for t in MATCH_TARGETS if not t["archived"])


# -- normalisation -------------------------------------------------------------------------

def norm_name(value: Any) -> str:
    return re.sub(r"[^A-Z]", "", str(value or "").upper())


def canon_first(value: Any) -> str:
    name = norm_name(value)
    return FORMAL.get(name, name)


def norm_address(value: Any) -> str:
    words = re.sub(r"[^A-Z0-9 ]", " ", str(value or "").upper()).split()
    return " ".join(STREET_WORDS.get(w, w) for w in words)


def norm_zip(value: Any) -> str:
    return re.sub(r"[^0-9]", "", str(value or ""))[:5]


def norm_phone(value: Any) -> str:
    digits = re.sub(r"[^0-9]", "", str(value or ""))
    return digits[-10:] if len(digits) >= 10 else ""


def norm_email(value: Any) -> str:
    return str(value or "").strip().lower()


def one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one insert, delete, replace or adjacent swap."""
    if a == b or not a or not b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    for i in range(len(long_)):
        if long_[:i] + long_[i + 1:] == short:
            return True
    return False


def score(rec: dict, voter: dict) -> float:
    total = 0.0
    if rec["last"] and voter["last"]:
        if rec["last"] == voter["last"]:
            total += 0.20
        elif one_edit(rec["last"], voter["last"]):
            total += 0.12
    if rec["first"] and voter["first"]:
        if rec["first"] == voter["first"]:
            total += 0.15
        elif one_edit(rec["first"], voter["first"]) or (
                len(rec["first"]) >= 3 and rec["first"][:3] == voter["first"][:3]):
            total += 0.08
    if rec["address"] and rec["address"] == voter["address"]:
        total += 0.20
    if rec["zip"] and rec["zip"] == voter["zip"]:
        total += 0.10
    if rec["birth"] and voter["birth"]:
        if rec["birth"] == voter["birth"]:
            total += 0.20
        elif rec["birth"][:4] == voter["birth"][:4]:
            total += 0.05
    if rec["phone"] and rec["phone"] == voter["phone"]:
        total += 0.20
    if rec["email"] and rec["email"] == voter["email"]:
        total += 0.20
    return round(min(total, 1.0), 4)


# -- the voterfile index -------------------------------------------------------------------

class VoterIndex:
    def __init__(self, rows: list[tuple]):
        self.voters: list[dict] = []
        self.blocks: dict[tuple, list[int]] = defaultdict(list)
        for person_id, vb_id, first, last, address1, zip_, birth, phone, email in rows:
            voter = {"person_id": person_id, "voterbase_id": vb_id, "first": canon_first(first),
                     "last": norm_name(last), "address": norm_address(address1),
                     "zip": norm_zip(zip_), "birth": birth.isoformat() if birth else "",
                     "phone": norm_phone(phone), "email": norm_email(email)}
            i = len(self.voters)
            self.voters.append(voter)
            for key in self.keys(voter):
                self.blocks[key].append(i)

    @staticmethod
    def keys(rec: dict) -> list[tuple]:
        keys = []
        if rec["last"]:
            keys.append(("l", rec["last"]))
        if rec["email"]:
            keys.append(("e", rec["email"]))
        if rec["phone"]:
            keys.append(("p", rec["phone"]))
        if rec["zip"] and rec["first"]:
            keys.append(("zf", rec["zip"], rec["first"][:3]))
        if rec["zip"] and rec["address"]:
            keys.append(("za", rec["zip"], rec["address"]))
        return keys

    def candidates(self, rec: dict) -> list[tuple[float, dict]]:
        seen: set[int] = set()
        for key in self.keys(rec):
            seen.update(self.blocks.get(key, ()))
        scored = [(score(rec, self.voters[i]), self.voters[i]) for i in seen]
        scored.sort(key=lambda sv: (-sv[0], sv[1]["person_id"]))
        return scored


_INDEX: dict[str, Any] = {"stamp": None, "index": None}
_INDEX_LOCK = threading.Lock()


def voter_index(conn) -> VoterIndex:
    """The voterfile index, rebuilt when the table changed (row count and max id)."""
    stamp = conn.execute("SELECT count(*), max(person_id) FROM public.voterfile").fetchone()
    with _INDEX_LOCK:
        if _INDEX["stamp"] != stamp:
            rows = conn.execute(
                "SELECT person_id, voterbase_id, first_name, last_name, address1, zip, "
                "birth_date, phone, email FROM public.voterfile").fetchall()
            _INDEX["index"] = VoterIndex(rows)
            _INDEX["stamp"] = stamp
        return _INDEX["index"]


# -- executors -----------------------------------------------------------------------------

def _ident(name: Any, what: str) -> str:
    if not isinstance(name, str) or not IDENT.match(name):
        raise RuntimeError(f"Invalid {what}: {name!r}")
    return name


def _table(spec: dict | None, what: str) -> tuple[str, str]:
    spec = spec or {}
    return _ident(spec.get("schema"), f"{what} schema"), _ident(spec.get("table"), f"{what} table")


def _q(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'


def data_match_executor(ctx: cs.RunContext) -> None:
    fields = ctx.job.fields
    mapping = {k: v for k, v in (fields.get("inputFieldMapping") or {}).items() if v}
    if int(fields.get("matchTargetId") or 0) not in ACTIVE_TARGETS:
        raise RuntimeError(f"Match target {fields.get('matchTargetId')} not found.")
    if "primary_key" not in mapping:
        raise RuntimeError("inputFieldMapping must name the primary_key column.")
    in_schema, in_table = _table(fields.get("inputTable"), "input table")
    out_schema, out_table = _table(fields.get("outputTable"), "output table")
    max_matches = int(fields.get("maxMatches") or 1)
    threshold = float(fields.get("threshold") or 0.0)
    columns = {key: _ident(col, f"input column for {key}") for key, col in mapping.items()}
    keys = list(columns)
    select = ", ".join(f'"{columns[k]}"::text' for k in keys)
    with ctx.connect() as conn:
        index = voter_index(conn)
        rows = conn.execute(f"SELECT {select} FROM {_q(in_schema, in_table)}").fetchall()
        ctx.log(f"Matching {len(rows)} rows against match target {MATCH_TARGET_ID}.")
        out: list[tuple] = []
        for row in rows:
            if ctx.cancelled():
                return
            raw = dict(zip(keys, row, strict=True))
            rec = _record(raw)
            for rank, (value, voter) in enumerate(
                    [c for c in index.candidates(rec) if c[0] >= threshold][:max_matches], 1):
                out.append((raw["primary_key"], voter["person_id"], voter["voterbase_id"],
                            value, rank))
        target = _q(out_schema, out_table)
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{out_schema}"')
        conn.execute(f"DROP TABLE IF EXISTS {target}")
        conn.execute(f"CREATE TABLE {target} (source_id varchar(256), person_id bigint, "
                     f"voterbase_id varchar(20), score numeric(6,4), match_rank integer)")
        with conn.cursor().copy(f"COPY {target} FROM STDIN") as copy:
            for item in out:
                copy.write_row(item)
        conn.commit()
    ctx.log(f"Wrote {len(out)} candidate matches for {len({o[0] for o in out})} of "
            f"{len(rows)} rows.")


def _record(raw: dict) -> dict:
    address = raw.get("full_address") or " ".join(
        str(raw.get(k) or "") for k in ("house_number", "street")).strip()
    birth = raw.get("birth_date") or ""
    if not birth and raw.get("birth_year"):
        birth = "-".join(
            f"{int(raw[k]):0{w}d}" for k, w in (("birth_year", 4), ("birth_month", 2),
                                               ("birth_day", 2)) if raw.get(k))
    return {"first": canon_first(raw.get("first_name")), "last": norm_name(raw.get("last_name")),
            "address": norm_address(address), "zip": norm_zip(raw.get("zip")),
            "birth": str(birth)[:10], "phone": norm_phone(raw.get("phone")),
            "email": norm_email(raw.get("email"))}


def cass_ncoa_executor(ctx: cs.RunContext) -> None:
    fields = ctx.job.fields
    source = (fields.get("source") or {}).get("databaseTable") or {}
    dest = (fields.get("destination") or {}).get("databaseTable") or {}
    src_schema, src_table = _table(source, "source table")
    dst_schema, dst_table = _table(dest, "destination table")
    keys = [_ident(k, "multipart key column") for k in source.get("multipartKey") or []]
    if not keys:
        raise RuntimeError("source.databaseTable.multipartKey must name the key column(s).")
    mapping = {k: _ident(v, f"column for {k}") for k, v in
               (fields.get("columnMapping") or {}).items() if v}
    parts = ["address1", "address2", "city", "state", "zip", "name"]
    select = ", ".join([f'"{k}"' for k in keys] + [
        f'"{mapping[p]}"::text' if p in mapping else "NULL::text" for p in parts])
    where = fields.get("limitingSQL") or ""
    sql = f"SELECT {select} FROM {_q(src_schema, src_table)}" + (f" WHERE {where}" if where
                                                                 else "")
    with ctx.connect() as conn:
        rows = conn.execute(sql).fetchall()
        moves: dict[tuple, list[tuple]] = defaultdict(list)
        if fields.get("performNcoa"):
            for m in conn.execute("SELECT last_name, old_address1, old_zip, new_address1, "
                                  "new_unit, new_city, new_state, new_zip FROM "
                                  "public.ncoa_moves"):
                moves[(norm_address(m[1]), norm_zip(m[2]))].append(m)
        out = []
        for row in rows:
            key_values = row[:len(keys)]
            a1, a2, city, state, zip_, name = row[len(keys):]
            std1, std2 = norm_address(a1), norm_address(a2)
            std = (std1, std2, str(city or "").upper().strip(), str(state or "").upper().strip(),
                   norm_zip(zip_))
            status, moved = ("standardised", False) if std1 else ("no_address", False)
            tokens = set(re.sub(r"[^A-Z ]", " ", str(name or "").upper()).split())
            for m in moves.get((std1, std[4]), ()):
                if m[0] in tokens:
                    std = (m[3], m[4] or "", m[5], m[6], m[7])
                    status, moved = "moved", True
                    break
            out.append((*key_values, *(v or None for v in std), moved, status))
        target = _q(dst_schema, dst_table)
        key_types = conn.execute(
            "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns "
            "c JOIN pg_attribute a ON a.attrelid = to_regclass(%s) AND a.attname = c.column_name "
            "WHERE c.table_schema = %s AND c.table_name = %s",
            (f"{src_schema}.{src_table}", src_schema, src_table)).fetchall()
        types = dict(key_types)
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{dst_schema}"')
        conn.execute(f"DROP TABLE IF EXISTS {target}")
        cols = ", ".join(f'"{k}" {types.get(k, "varchar(256)")}' for k in keys)
        conn.execute(f"CREATE TABLE {target} ({cols}, cass_address1 varchar(128), "
                     f"cass_address2 varchar(64), cass_city varchar(64), cass_state varchar(2), "
                     f"cass_zip varchar(10), ncoa_moved boolean, cass_status varchar(16))")
        with conn.cursor().copy(f"COPY {target} FROM STDIN") as copy:
            for item in out:
                copy.write_row(item)
        conn.commit()
    ctx.log(f"Standardised {len(out)} addresses ({sum(1 for o in out if o[-2])} moved).")


# -- routes --------------------------------------------------------------------------------

SEGMENTS = {"civis-data-match": (DATA_MATCH, "civisDataMatchId", "Civis Data Match",
                                 "/enhancements/civis-data-match/"),
            "cass-ncoa": (CASS_NCOA, "cassNcoaId", "CASS/NCOA", "/enhancements/cass-ncoa")}


def enhancement_view(job: cs.Job, now: float) -> dict[str, Any]:
    last = job.last_run()
    view = dict(job.fields)
    view.update({
        "id": job.id, "name": job.name, "type": job.info.script_type,
        "createdAt": cs.iso(job.created_at), "updatedAt": cs.iso(job.updated_at),
        "author": job.author.simple(), "runningAs": job.author.simple(),
        "state": job.state(now), "schedule": job.schedule,
        "notifications": job.fields.get("notifications") or {},
        "myPermissionLevel": "manage", "archived": job.archived,
        "lastRun": last.view(now) if last else None,
    })
    return view


def install(app: cs.Standin) -> None:
    store = app.store
    for segment, (kind, parent_key, label, create_path) in SEGMENTS.items():
        cs.KINDS[kind] = cs.Kind(kind, f"JobTypes::{label.replace(' ', '')}", label,
                                 "enhancement", parent_key)
        base = f"/enhancements/{segment}"
        _routes(app, store, kind, parent_key, base, create_path)
    _match_target_routes(app)
    app.register_executor(DATA_MATCH, data_match_executor)
    app.register_executor(CASS_NCOA, cass_ncoa_executor)
    if store.dsn:
        threading.Thread(target=_seed, args=(store.dsn,), daemon=True,
                         name="voterfile-seed").start()


def _seed(dsn: str) -> None:
    from devstack.seed_voterfile import ensure_seeded

    for _ in range(30):  # PostgreSQL may still be starting with us
        try:
            ensure_seeded(dsn)
            return
        except Exception:  # noqa: BLE001 - retried; tests seed explicitly as well
            time.sleep(2)


def _match_target_routes(app: cs.Standin) -> None:
    # The stand-in runs as `python -m devstack.civis_standin`: its dispatcher catches the
    # ApiError of `__main__`, not of the `devstack.civis_standin` this plug-in imported.
    api = sys.modules[type(app).__module__]

    @app.route("GET", "/match_targets/")
    def targets_list(call: cs.Call):
        return [dict(t) for t in MATCH_TARGETS]

    @app.route("GET", "/match_targets/{id}")
    def targets_get(call: cs.Call):
        for target in MATCH_TARGETS:
            if target["id"] == call.params["id"]:
                return dict(target)
        raise api.not_found(f"The requested match target {call.params['id']} could not be "
                           "found.")


def _routes(app, store, kind, parent_key, base, create_path) -> None:
    def run_view(job, run, now):
        view = run.view(now)
        view[parent_key] = job.id
        return view

    @app.route("POST", create_path)
    def create(call: cs.Call):
        body = dict(call.body)
        name = body.pop("name")
        job = store.add_job(kind, name, fields=body, schedule=body.get("schedule"))
        job.running_s = MIN_RUNNING_SECONDS  # an enhancement is never instant: observable
        return enhancement_view(job, time.time())

    @app.route("GET", f"{base}/{{id}}")
    def get(call: cs.Call):
        return enhancement_view(store.job(call.params["id"], kind), time.time())

    @app.route("POST", f"{base}/{{id}}/runs")
    def start(call: cs.Call):
        job = store.job(call.params["id"], kind)
        run = store.start_run(job, call.base_url)
        return run_view(job, run, time.time())

    @app.route("GET", f"{base}/{{id}}/runs")
    def runs(call: cs.Call):
        job = store.job(call.params["id"], kind)
        now = time.time()
        ordered = cs._order(job.runs, call, {"id": lambda r: r.id}, "id")
        return cs.Paged(run_view(job, r, now) for r in ordered)

    @app.route("GET", f"{base}/{{id}}/runs/{{run_id}}")
    def run_get(call: cs.Call):
        job = store.job(call.params["id"], kind)
        return run_view(job, store.find_run(job, call.params["run_id"]), time.time())

    @app.route("DELETE", f"{base}/{{id}}/runs/{{run_id}}")
    def run_cancel(call: cs.Call):
        job = store.job(call.params["id"], kind)
        with store.lock:
            store.find_run(job, call.params["run_id"]).cancel(time.time())
        return None
