"""The benchmark's data: a database of documents generated server-side, its plain SQL dump gzipped (the backup
every contender restores), and archive files; built once per mode under .stack/bench/<mode>/data and reused while
its inputs (data_key) are unchanged, then uploaded to the bench's bucket."""

import hashlib
import json
import os
import random
import shutil
import subprocess
import time

from .common import fail, log

DATA_VERSION = "3"  # bump when the generator below changes: the cached data is rebuilt

WORDS = (
    "Rechnung Lieferung Auftrag Angebot Gutschrift Mahnung Kunde Lieferant Artikel Menge Preis Rabatt Skonto "
    "Zahlungsziel Versand Spedition Lager Palette Karton Stück Kilogramm Liter Meter Netto Brutto Steuer "
    "Mehrwertsteuer Konto Bank Überweisung Lastschrift Frist Vertrag Rahmenvertrag Bestellung Bestätigung "
    "Reklamation Rücksendung Ersatzteil Wartung Montage Service Stunden Pauschale Anfahrt Material Verpackung "
    "Zoll Export Import Ursprung Zeugnis Prüfung Freigabe Abnahme Projekt Kostenstelle Abteilung Einkauf "
    "Vertrieb Buchhaltung Controlling Geschäftsführung Filiale Zentrale Standort Halle Tor Rampe Fahrer "
    "invoice delivery order quote credit reminder customer supplier item quantity price discount payment "
    "shipping warehouse pallet carton piece weight net gross tax account transfer deadline contract "
    "confirmation complaint return spare maintenance assembly service hours material packaging customs "
    "export import certificate inspection approval acceptance project department purchasing sales "
    "accounting management branch headquarters site hall gate ramp driver urgent partial complete open "
    "closed pending approved rejected cancelled booked cleared overdue scheduled delayed express standard"
).split()

CUSTOMERS = [f"{a} {b}" for a in ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
                                   "Becker", "Schulz", "Hoffmann", "Koch", "Richter")
             for b in ("GmbH", "AG", "KG", "& Söhne", "Logistik GmbH")]


def generator_sql(rows):
    """documents_header and documents_line with `rows` documents, text assembled server-side."""
    words = "ARRAY[" + ",".join("'" + w.replace("'", "''") + "'" for w in WORDS) + "]"
    customers = "ARRAY[" + ",".join("'" + c.replace("'", "''") + "'" for c in CUSTOMERS) + "]"
    return f"""
CREATE TABLE documents_header (id bigint PRIMARY KEY, number text NOT NULL, customer text, amount numeric(12,2),
  created_at timestamptz NOT NULL, title text, notes text);
CREATE TABLE documents_line (document_id bigint, line int, item text, quantity int, price numeric(10,2),
  PRIMARY KEY (document_id, line));
CREATE TEMP TABLE sentences AS
  SELECT s AS id, array_to_string(ARRAY(
  SELECT w[1 + floor(random() * array_length(w, 1))::int] || CASE WHEN random() < 0.2
         THEN ' ' || (random() * 10000)::int ELSE '' END
  FROM generate_series(1, 6 + s % 7)), ' ') || '.' AS t
  FROM generate_series(1, 5000) AS s, (SELECT {words} AS w) AS words;
CREATE UNIQUE INDEX ON sentences (id);
ANALYZE sentences;
INSERT INTO documents_header
  SELECT g.i, 'RE-' || (2020 + g.i % 7) || '-' || lpad(g.i::text, 8, '0'),
     ({customers})[1 + g.i % {len(CUSTOMERS)}], round((random() * 25000)::numeric, 2),
     timestamptz '2020-01-01' + random() * interval '2000 days',
     s1.t, s2.t || ' ' || s3.t || ' Menge ' || (random() * 500)::int || ' ' || s4.t || ' ' || s5.t
  FROM (SELECT i, 1 + (random() * 4999)::int AS a, 1 + (random() * 4999)::int AS b,
           1 + (random() * 4999)::int AS c, 1 + (random() * 4999)::int AS d, 1 + (random() * 4999)::int AS e
    FROM generate_series(1, {rows}) AS i) AS g
  JOIN sentences s1 ON s1.id = g.a JOIN sentences s2 ON s2.id = g.b JOIN sentences s3 ON s3.id = g.c
  JOIN sentences s4 ON s4.id = g.d JOIN sentences s5 ON s5.id = g.e;
INSERT INTO documents_line
  SELECT i, l, ({words})[1 + (random() * {len(WORDS) - 1})::int] || '-' || (random() * 99999)::int,
     1 + (random() * 99)::int, round((random() * 999)::numeric, 2)
  FROM generate_series(1, {rows}) AS i, generate_series(1, 2) AS l;
"""


class Dataset:
    """The cached data of one world: `prepare` makes it (or finds it) and uploads it; returns data.json."""

    def __init__(self, world):
        self.world = world
        self.config = world.config
        self.stack = world.stack

    def key(self):
        inputs = {k: self.config[k] for k in ("rows", "archive_files", "archive_kb", "verify_rows")}
        inputs["version"] = DATA_VERSION
        inputs["database"] = self.world.database
        return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]

    def prepare(self):
        w = self.world
        key_file = os.path.join(w.data, "key")
        cached = (os.path.exists(key_file) and open(key_file).read().strip() == self.key()
                  and os.path.exists(w.backup) and os.path.exists(w.backup + ".sha256")
                  and os.path.isdir(w.archive_source))
        if cached:
            log(f"data cached in {w.data} (inputs unchanged)")
        else:
            shutil.rmtree(w.data, ignore_errors=True)
            os.makedirs(w.data)
            self.generate_database()
            self.generate_archive()
            with open(key_file, "w") as out:
                out.write(self.key() + "\n")
        self.upload()
        return json.load(open(os.path.join(w.data, "data.json")))

    def generate_database(self):
        w, rows = self.world, self.config["rows"]
        log(f"generating {rows} documents server-side in {w.database} (random words and numbers)")
        self.stack.drop_like(w.database)
        self.stack.sql("postgres", f'CREATE DATABASE "{w.database}"')
        started = time.monotonic()
        self.stack.sql(w.database, generator_sql(rows))
        generated = time.monotonic() - started
        log(f"generated in {generated:.0f} s; pg_dump | gzip")
        sql_bytes = self.dump(w.database, w.backup)
        digest = hashlib.sha256()
        with open(w.backup, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        with open(w.backup + ".sha256", "w") as out:
            out.write(f"{digest.hexdigest()}  {w.backup_name}\n")
        gz_bytes = os.path.getsize(w.backup)
        info = {"rows": rows, "sqlBytes": sql_bytes, "gzipBytes": gz_bytes,
                "gzipRatio": round(sql_bytes / gz_bytes, 2), "generateSeconds": round(generated, 1)}
        json.dump(info, open(os.path.join(w.data, "data.json"), "w"), indent=2)
        log(f"dump: {sql_bytes / 1e6:.0f} MB SQL, {gz_bytes / 1e6:.0f} MB gzip ({info['gzipRatio']}:1)")
        self.stack.drop_like(w.database)

    def dump(self, database, path):
        """pg_dump | tee >(wc -c) | gzip: the plain SQL size and the compressed file, in one pass."""
        env = self.stack.env()
        dump = subprocess.Popen(["pg_dump", "-h", self.stack.host, "-p", self.stack.port, "-U", self.stack.user,
                                 "-w", database], env=env, stdout=subprocess.PIPE)
        gz = subprocess.Popen(["gzip", "-c"], stdin=subprocess.PIPE, stdout=open(path, "wb"))
        total = 0
        for chunk in iter(lambda: dump.stdout.read(1 << 20), b""):
            total += len(chunk)
            gz.stdin.write(chunk)
        gz.stdin.close()
        if dump.wait() != 0 or gz.wait() != 0:
            fail(f"pg_dump {database} | gzip failed")
        return total

    def generate_archive(self):
        count, kb = self.config["archive_files"], self.config["archive_kb"]
        log(f"writing {count} archive files (~{kb} KB each)")
        rng = random.Random(9)
        for index in range(count):
            folder = os.path.join(self.world.archive_source, f"20{20 + index % 7}", f"{index % 12 + 1:02d}")
            os.makedirs(folder, exist_ok=True)
            target = rng.randint(kb * 512, kb * 1536)
            parts, size = [], 0
            while size < target:
                line = " ".join(rng.choice(WORDS) for _ in range(12)) + f" {rng.randint(0, 99999)}\n"
                parts.append(line)
                size += len(line.encode())
            with open(os.path.join(folder, f"doc-{index:05d}.txt"), "w") as out:
                out.write("".join(parts))

    def upload(self):
        w = self.world
        key = f"s3://{w.bucket}/postgresql/{w.backup_name}"
        present = w.aws("s3", "ls", key, check=False, capture=True)
        files = sum(len(f) for _, _, f in os.walk(w.archive_source))
        listed = w.aws("s3", "ls", f"s3://{w.bucket}/archives/", "--recursive", check=False, capture=True)
        uploaded = len([line for line in listed.stdout.splitlines() if line.strip()]) if listed.returncode == 0 else 0
        if present.returncode == 0 and w.backup_name in present.stdout and uploaded == files:
            log(f"s3://{w.bucket} holds the backup and {files} archive files")
            return
        log(f"uploading the backup and {files} archive files to s3://{w.bucket}")
        w.aws("s3", "mb", f"s3://{w.bucket}", check=False)
        w.aws("s3", "cp", w.backup, key, "--only-show-errors")
        w.aws("s3", "cp", w.backup + ".sha256", key + ".sha256", "--only-show-errors")
        w.aws("s3", "sync", w.archive_source, f"s3://{w.bucket}/archives/", "--only-show-errors")
