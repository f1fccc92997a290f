"""Synthetic voterfile, NCOA moves and a messy sign-up list with ground truth (civis database).

Everything is a pure function of `seed`, loaded with COPY into the devstack PostgreSQL database
`civis` (the Redshift stand-in the Civis stand-in's Data Match and CASS/NCOA read):

- `public.voterfile` (>= 100,000 people): person_id, voterbase_id, first/middle/last name,
  address1 (standardised: `123 N MAIN ST`), unit, city, state, zip, birth_date, phone, email,
  gender. It is the Data Match target (match target id `MATCH_TARGET_ID`).
- `public.ncoa_moves`: the USPS change-of-address records: a person's old address (what a
  stale list still has) and the new one (what the voterfile has).
- `demo.voterfile_signups` (>= 10,000 rows, primary key `id`): the messy list: typos, nicknames,
  missing fields, couples ("Robert and Mary"), e-mail-only names (`first.last@...`), the full
  name typed in the first-name field, moved addresses, unstandardised addresses ("Street"), and
  people who are not on the voterfile at all.
- `demo.voterfile_signups_truth`: id -> person_id (NULL: not on the voterfile) and the kind
  of mess the row was given, so the demo prints precision and recall.
- `demo.voterfile_signups_small`: the first `SMALL_ROWS` rows, for fast end-to-end tests.

`ensure_seeded()` loads it once (idempotent: a marker table holds the seed's version).
"""

# Identifiers are validated (IDENTIFIER) and quoted; values are bound or int/float-formatted.
# ruff: noqa: S608
from __future__ import annotations

import io
import random
from datetime import date, timedelta

VERSION = "voterfile-v1"
PEOPLE = 100_000
SIGNUPS = 10_000
SMALL_ROWS = 400
MATCH_TARGET_ID = 1  # the stand-in's one match target: the seeded voterfile

FIRST = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Nancy", "Daniel", "Margaret", "Matthew", "Lisa",
    "Anthony", "Betty", "Donald", "Dorothy", "Steven", "Sandra", "Andrew", "Ashley", "Joshua",
    "Kimberly", "Kenneth", "Donna", "Kevin", "Emily", "Brian", "Michelle", "Edward", "Carol",
    "Ronald", "Amanda", "Timothy", "Melissa", "Jason", "Deborah", "Jeffrey", "Stephanie", "Ryan",
    "Rebecca", "Jacob", "Laura", "Gary", "Helen", "Nicholas", "Sharon", "Eric", "Cynthia",
    "Stephen", "Kathleen", "Jonathan", "Amy", "Larry", "Shirley", "Justin", "Angela", "Scott",
    "Anna", "Frank", "Ruth", "Benjamin", "Brenda", "Gregory", "Pamela", "Samuel", "Nicole",
    "Raymond", "Katherine", "Patrick", "Virginia", "Alexander", "Catherine", "Jack", "Christine",
    "Dennis", "Samantha", "Jerry", "Debra", "Tyler", "Janet", "Aaron", "Rachel", "Jose",
    "Carolyn", "Henry", "Emma", "Douglas", "Maria", "Peter", "Heather", "Adam", "Diane",
    "Nathan", "Julie", "Zachary", "Joyce", "Walter", "Victoria", "Kyle", "Kelly", "Harold",
    "Christina", "Carl", "Joan", "Jeremy", "Evelyn", "Keith", "Lauren", "Roger", "Judith",
]
NICKNAMES = {
    "James": "Jim", "Robert": "Bob", "John": "Jack", "Michael": "Mike", "William": "Bill",
    "Elizabeth": "Liz", "David": "Dave", "Richard": "Dick", "Joseph": "Joe", "Thomas": "Tom",
    "Charles": "Chuck", "Christopher": "Chris", "Daniel": "Dan", "Margaret": "Peggy",
    "Matthew": "Matt", "Anthony": "Tony", "Donald": "Don", "Steven": "Steve", "Andrew": "Andy",
    "Joshua": "Josh", "Kenneth": "Ken", "Edward": "Ed", "Ronald": "Ron", "Timothy": "Tim",
    "Jeffrey": "Jeff", "Nicholas": "Nick", "Jonathan": "Jon", "Benjamin": "Ben",
    "Gregory": "Greg", "Samuel": "Sam", "Patrick": "Pat", "Alexander": "Alex",
    "Katherine": "Kate", "Catherine": "Cathy", "Kimberly": "Kim", "Jennifer": "Jen",
    "Patricia": "Patty", "Deborah": "Debbie", "Rebecca": "Becky", "Samantha": "Sam",
    "Victoria": "Vicky", "Christina": "Tina", "Zachary": "Zach", "Douglas": "Doug",
}
_PRE = ["Har", "Whit", "Mor", "Bel", "Cald", "Dun", "Ash", "Brad", "Carr", "Ell", "Fair",
        "Gold", "Hol", "Ken", "Lang", "Mad", "New", "Oak", "Pen", "Ral", "Sand", "Thorn", "Ward",
        "Win", "Bram", "Crom", "Dal", "Fen", "Gar", "Hay", "Lind", "Marl", "Nor", "Pres", "Rid",
        "Stan", "Tal", "Wal", "Yar", "Ross"]
_SUF = ["well", "man", "ley", "ton", "son", "wood", "ford", "field", "by", "more", "ridge",
        "stone", "worth", "ham", "ett", "ock", "er", "en", "ing", "ard", "win", "croft", "dale",
        "low", "sby", "ney", "ick", "ers", "sey", "lock", "wick", "hurst", "cott", "brook",
        "ell", "ow", "ay", "ins", "ister", "ler"]
LAST = sorted({p + s for p in _PRE for s in _SUF})
STREETS = ["Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill",
           "Park", "Walnut", "Sunset", "Lincoln", "Jackson", "Church", "River", "Highland",
           "Center", "Mill", "Spring", "Forest", "Meadow", "Ridge", "Valley", "Franklin",
           "Jefferson", "Madison", "Adams", "Chestnut", "Willow", "Birch", "Dogwood", "Prairie",
           "Harbor", "Summit", "College", "Market", "Union", "Grove", "Orchard"]
SUFFIXES = [("ST", "Street"), ("AVE", "Avenue"), ("RD", "Road"), ("LN", "Lane"),
            ("DR", "Drive"), ("CT", "Court"), ("BLVD", "Boulevard"), ("PL", "Place")]
DIRS = [("", ""), ("N", "North"), ("S", "South"), ("E", "East"), ("W", "West")]
CITIES = {
    "IL": [("CHICAGO", "606"), ("SPRINGFIELD", "627"), ("PEORIA", "616"), ("NAPERVILLE", "605")],
    "WI": [("MILWAUKEE", "532"), ("MADISON", "537"), ("GREEN BAY", "543")],
    "MI": [("DETROIT", "482"), ("LANSING", "489"), ("FLINT", "485"), ("ANN ARBOR", "481")],
    "PA": [("PHILADELPHIA", "191"), ("PITTSBURGH", "152"), ("ERIE", "165")],
    "OH": [("COLUMBUS", "432"), ("CLEVELAND", "441"), ("TOLEDO", "436"), ("AKRON", "443")],
}
DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com"]

# The mix of the sign-up list (fractions; the rest is clean).
MESS = [("not_on_file", 0.12), ("typo", 0.10), ("nickname", 0.10), ("missing_fields", 0.12),
        ("couple", 0.05), ("email_only", 0.06), ("full_name_in_first", 0.06), ("moved", 0.08),
        ("unstandardised", 0.08)]

VOTERFILE_COLUMNS = ["person_id", "voterbase_id", "first_name", "middle_name", "last_name",
                     "address1", "unit", "city", "state", "zip", "birth_date", "phone", "email",
                     "gender"]
SIGNUP_COLUMNS = ["id", "first_name", "middle_name", "last_name", "phone", "email", "address",
                  "unit", "city", "state", "zip", "birth_date", "gender"]
NCOA_COLUMNS = ["last_name", "first_name", "old_address1", "old_unit", "old_city", "old_state",
                "old_zip", "new_address1", "new_unit", "new_city", "new_state", "new_zip",
                "move_date"]


def _address(rng: random.Random) -> dict:
    state = rng.choice(sorted(CITIES))
    city, prefix = rng.choice(CITIES[state])
    d_short, d_long = rng.choice(DIRS)
    s_short, s_long = rng.choice(SUFFIXES)
    street = rng.choice(STREETS)
    number = rng.randint(1, 9999)
    unit = f"APT {rng.randint(1, 40)}" if rng.random() < 0.2 else ""
    return {
        "number": number, "dir": (d_short, d_long), "street": street,
        "suffix": (s_short, s_long), "unit": unit, "city": city, "state": state,
        "zip": f"{prefix}{rng.randint(0, 99):02d}",
    }


def _std(addr: dict) -> str:
    parts = [str(addr["number"]), addr["dir"][0], addr["street"].upper(), addr["suffix"][0]]
    return " ".join(p for p in parts if p)


def _messy(addr: dict) -> str:
    parts = [str(addr["number"]), addr["dir"][1], addr["street"], addr["suffix"][1]]
    return " ".join(p for p in parts if p)


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randint(1, len(word) - 2)
    choice = rng.random()
    if choice < 0.4:  # swap two letters
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if choice < 0.7:  # drop one
        return word[:i] + word[i + 1:]
    return word[:i] + rng.choice("aeiourstln") + word[i + 1:]  # replace one


def generate(seed: int = 11, people: int = PEOPLE, signups: int = SIGNUPS) -> dict[str, list]:
    """The tables as lists of tuples (column order as in the *_COLUMNS constants)."""
    rng = random.Random(seed)
    voters, persons = [], []
    used_emails: set[str] = set()
    for i in range(people):
        first = rng.choice(FIRST)
        last = rng.choice(LAST)
        middle = rng.choice(FIRST)[0] if rng.random() < 0.6 else ""
        addr = _address(rng)
        born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 62))
        phone = f"{rng.randint(200, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}" \
            if rng.random() < 0.7 else ""
        email = ""
        if rng.random() < 0.6:
            email = f"{first.lower()}{rng.choice(['.', '_', ''])}{last.lower()}" \
                    f"{rng.randint(1, 999)}@{rng.choice(DOMAINS)}"
            if email in used_emails:
                email = ""
            used_emails.add(email)
        person_id = 1_000_000 + i
        person = {"person_id": person_id, "first": first, "middle": middle, "last": last,
                  "addr": addr, "born": born, "phone": phone, "email": email,
                  "gender": rng.choice("FM")}
        persons.append(person)
        voters.append((person_id, f"VB{person_id:010d}", first.upper(), middle.upper(),
                       last.upper(), _std(addr), addr["unit"], addr["city"], addr["state"],
                       addr["zip"], born, phone, email, person["gender"]))

    kinds = [k for k, _ in MESS]
    weights = [w for _, w in MESS] + [1 - sum(w for _, w in MESS)]
    rows, truth, ncoa = [], [], []
    chosen = rng.sample(range(people), signups)
    for n, index in enumerate(chosen, start=1):
        kind = rng.choices([*kinds, "clean"], weights)[0]
        p = persons[index]
        first, middle, last = p["first"], p["middle"], p["last"]
        addr = p["addr"]
        address, unit, city = _std(addr).title(), addr["unit"].title(), addr["city"].title()
        state, zip_ = addr["state"], addr["zip"]
        phone, email, born = p["phone"], p["email"], p["born"].isoformat()
        person_id: int | None = p["person_id"]
        if kind == "not_on_file":
            person_id = None
            first, last = rng.choice(FIRST), rng.choice(LAST) + "e"  # no voter has this name
            fake = _address(rng)
            address, unit, city = _messy(fake), fake["unit"].title(), fake["city"].title()
            state, zip_ = fake["state"], fake["zip"]
            phone = f"{rng.randint(200, 989)}5550{rng.randint(100, 999)}"
            email = f"{first.lower()}{rng.randint(1000, 9999)}@example.org"
            born = (date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 50))).isoformat()
        elif kind == "typo":
            if rng.random() < 0.5:
                last = _typo(rng, last)
            else:
                first = _typo(rng, first)
        elif kind == "nickname":
            first = NICKNAMES.get(first, first)
        elif kind == "missing_fields":
            phone = "" if rng.random() < 0.8 else phone
            email = "" if rng.random() < 0.8 else email
            born = "" if rng.random() < 0.7 else born
        elif kind == "couple":
            partner = rng.choice(FIRST)
            first = f"{first} and {partner}" if rng.random() < 0.6 else f"{first} & {partner}"
            address, unit, phone, email, born = "", "", "", "", ""
        elif kind == "email_only":
            email = f"{p['first'].lower()}.{p['last'].lower()}@{rng.choice(DOMAINS)}"
            first, middle, last, phone, born = "", "", "", "", ""
        elif kind == "full_name_in_first":
            first, middle, last = f"{p['first']} {p['last']}", "", ""
            phone, email, born = "", "", ""
        elif kind == "moved":
            old = _address(rng)
            while old["zip"] == addr["zip"]:
                old = _address(rng)
            address, unit, city = _messy(old), old["unit"].title(), old["city"].title()
            state, zip_ = old["state"], old["zip"]
            phone, email, born = "", "", ""
            ncoa.append((p["last"].upper(), p["first"].upper(), _std(old), old["unit"],
                         old["city"], old["state"], old["zip"], _std(addr), addr["unit"],
                         addr["city"], addr["state"], addr["zip"],
                         date(2025, 1, 1) + timedelta(days=rng.randint(0, 600))))
        elif kind == "unstandardised":
            address, city = _messy(addr), addr["city"].lower()
            phone = f"({phone[:3]}) {phone[3:6]}-{phone[6:]}" if phone else ""
        if kind != "not_on_file" and rng.random() < 0.3:
            middle = ""
        rows.append((n, first, middle, last, phone, email, address, unit, city, state, zip_,
                     born or None, p["gender"] if rng.random() < 0.7 else ""))
        truth.append((n, person_id, kind))
    return {"voterfile": voters, "signups": rows, "truth": truth, "ncoa": ncoa}


def _copy(cur, table: str, columns: list[str], rows: list[tuple]) -> None:
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None or v == "" else str(v) for v in row) + "\n")
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(buf.getvalue())


DDL = """
CREATE SCHEMA IF NOT EXISTS demo;
DROP TABLE IF EXISTS public.voterfile, public.ncoa_moves, demo.voterfile_signups,
  demo.voterfile_signups_truth, demo.voterfile_signups_small;
CREATE TABLE public.voterfile (person_id bigint PRIMARY KEY, voterbase_id varchar(20),
  first_name varchar(64), middle_name varchar(64), last_name varchar(64),
  address1 varchar(128), unit varchar(32), city varchar(64), state char(2), zip varchar(10),
  birth_date date, phone varchar(20), email varchar(128), gender char(1));
CREATE TABLE public.ncoa_moves (last_name varchar(64), first_name varchar(64),
  old_address1 varchar(128), old_unit varchar(32), old_city varchar(64), old_state char(2),
  old_zip varchar(10), new_address1 varchar(128), new_unit varchar(32), new_city varchar(64),
  new_state char(2), new_zip varchar(10), move_date date);
CREATE TABLE demo.voterfile_signups (id integer PRIMARY KEY, first_name varchar(128),
  middle_name varchar(64), last_name varchar(64), phone varchar(20), email varchar(128),
  address varchar(128), unit varchar(32), city varchar(64), state varchar(2),
  zip varchar(10), birth_date date, gender varchar(1));
CREATE TABLE demo.voterfile_signups_truth (id integer PRIMARY KEY, person_id bigint,
  kind varchar(32));
"""


def load(dsn: str, seed: int = 11) -> dict[str, int]:
    """(Re)create and load every table; returns row counts."""
    import psycopg

    data = generate(seed)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(DDL)
        _copy(cur, "public.voterfile", VOTERFILE_COLUMNS, data["voterfile"])
        _copy(cur, "public.ncoa_moves", NCOA_COLUMNS, data["ncoa"])
        _copy(cur, "demo.voterfile_signups", SIGNUP_COLUMNS, data["signups"])
        _copy(cur, "demo.voterfile_signups_truth", ["id", "person_id", "kind"], data["truth"])
        cur.execute(f"CREATE TABLE demo.voterfile_signups_small AS SELECT * FROM "
                    f"demo.voterfile_signups WHERE id <= {SMALL_ROWS}")
        cur.execute("CREATE INDEX ON public.voterfile (last_name)")
        cur.execute("CREATE TABLE IF NOT EXISTS public.devstack_seed (name text PRIMARY KEY)")
        cur.execute("INSERT INTO public.devstack_seed VALUES (%s) ON CONFLICT DO NOTHING",
                    (VERSION,))
        cur.execute("ANALYZE")
    return {name: len(rows) for name, rows in data.items()}


def ensure_seeded(dsn: str | None = None) -> bool:
    """Load the seed unless this version is already there; True if it loaded now."""
    import psycopg

    if dsn is None:
        from devstack import postgres

        dsn = postgres.dsn("civis")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(7310)")
        try:
            seeded = False
            if conn.execute("SELECT to_regclass('public.devstack_seed')").fetchone()[0]:
                seeded = conn.execute("SELECT EXISTS (SELECT 1 FROM public.devstack_seed "
                                      "WHERE name = %s)", (VERSION,)).fetchone()[0]
            if seeded:
                return False
            load(dsn)
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(7310)")


if __name__ == "__main__":
    print(ensure_seeded())
