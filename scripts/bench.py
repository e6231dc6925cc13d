"""Recovery-time benchmarks for drctl (issue 9); run through scripts/bench, which loads the stack's environment.

Contenders run alternately (A, B, A, B, ...) and the table reports medians and ratios. The data (a database dump,
archive files) is built once per mode under .stack/bench/<mode> and reused while its inputs are unchanged.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_VERSION = "3"  # bump when the generator below changes: the cached data is rebuilt

MODES = {
    # rows of documents_header (each ~0.55 KB of SQL text plus 2 lines in documents_line), archive files, runs
    "smoke": {"rows": 2_000, "archive_files": 30, "archive_kb": 4, "runs": 1, "plan_runs": 5, "verify_rows": 500},
    "full": {"rows": 1_000_000, "archive_files": 1_000, "archive_kb": 48, "runs": 3, "plan_runs": 20,
             "verify_rows": 20_000},
}

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


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def fail(message):
    print(f"scripts/bench: error: {message}", file=sys.stderr)
    sys.exit(1)


def run(argv, env=None, check=True, capture=False, stdin=None, cwd=None):
    result = subprocess.run(argv, env=env, cwd=cwd, stdin=stdin, text=True,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    if check and result.returncode != 0:
        fail(f"{' '.join(argv[:4])} … exited {result.returncode}: {result.stderr.strip()[-800:]}")
    return result


class Stack:
    """The stack's addresses and the psql helpers (the password travels in PGPASSWORD, never in argv)."""

    def __init__(self):
        need = ["PGHOST", "PGPORT", "DRCTL_PG_USER", "DRCTL_PG_PASSWORD", "DRCTL_PG_SUPERUSER", "AWS_ENDPOINT_URL",
                "DRCTL_STACK_DIR"]
        missing = [name for name in need if not os.environ.get(name)]
        if missing:
            fail(f"missing {', '.join(missing)}: run scripts/bench (it loads scripts/stack env), not bench.py")
        self.host, self.port = os.environ["PGHOST"], os.environ["PGPORT"]
        self.user, self.password = os.environ["DRCTL_PG_USER"], os.environ["DRCTL_PG_PASSWORD"]
        self.superuser = os.environ["DRCTL_PG_SUPERUSER"]
        self.dir = os.environ["DRCTL_STACK_DIR"]

    def psql_argv(self, database, superuser=False):
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", self.port,
                "-U", self.superuser if superuser else self.user, "-d", database]

    def env(self):
        env = dict(os.environ)
        env["PGPASSWORD"] = self.password
        return env

    def sql(self, database, statement, superuser=False):
        return run(self.psql_argv(database, superuser) + ["-At", "-c", statement], env=self.env(),
                   capture=True).stdout.strip()

    def drop_like(self, prefix):
        names = self.sql("postgres", f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'",
                         superuser=True)
        for name in filter(None, names.splitlines()):
            self.sql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', superuser=True)


class KubeStandIn:
    """A private Kubernetes API stand-in (scripts/fixtures/kube_standin.py, a test fixture) for the benchmark."""

    def __init__(self, folder):
        os.makedirs(folder, exist_ok=True)
        self.kubeconfig = os.path.join(folder, "kubeconfig")
        port_file = os.path.join(folder, "port")
        if os.path.exists(port_file):
            os.remove(port_file)
        self.process = subprocess.Popen(
            [os.path.join(ROOT, ".tools/venv/bin/python"), os.path.join(ROOT, "scripts/fixtures/kube_standin.py"),
             "--port", "0", "--port-file", port_file, "--kubeconfig", self.kubeconfig],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(folder, "standin.log"), "w"))
        for _ in range(400):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        else:
            self.stop()
            fail("the private kube stand-in did not write its port file within 20 s")
        self.url = f"http://127.0.0.1:{open(port_file).read().strip()}"

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/_standin/reset", method="POST"), timeout=30)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Sampler:
    """Runs one process and samples /proc/<pid>/stat: its own CPU time (utime + stime, without its children)
    from the last sample before it exits, and the total with every reaped descendant from wait4."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, argv, env, stdout_path, on_line=None):
        self.stdout_path = stdout_path
        self.out = open(stdout_path, "w")
        self.started = time.monotonic()
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=self.out, text=True,
                                        start_new_session=True)
        self.own_cpu = 0.0
        self.returncode = None
        self.lines = []
        self.on_line = on_line
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)
            self.out.write(line)
            if self.on_line:
                self.on_line(line)

    def _sample(self):
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            # fields[0] is state (field 3); utime, stime are fields 14 and 15
            self.own_cpu = (int(fields[11]) + int(fields[12])) / self.TICK
        except (OSError, IndexError, ValueError):
            pass

    def exited(self):
        """Samples once and reaps the process if it has exited (never Popen.poll: that would lose wait4's usage)."""
        if self.returncode is not None:
            return True
        self._sample()
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if not pid:
            return False
        self.wall = time.monotonic() - self.started
        self.returncode = os.waitstatus_to_exitcode(status)
        self.process.returncode = self.returncode
        self.total_cpu = usage.ru_utime + usage.ru_stime
        return True

    def wait(self):
        while not self.exited():
            time.sleep(0.05)
        self.reader.join(timeout=10)
        self.out.close()
        return self.returncode

    def kill_group(self):
        os.killpg(self.process.pid, signal.SIGKILL)


class Bench:
    def __init__(self, mode, build, runs):
        self.mode = mode
        self.config = dict(MODES[mode])
        if runs:
            self.config["runs"] = runs
        self.build = build
        self.stack = Stack()
        self.dir = os.path.join(self.stack.dir, "bench", mode)
        os.makedirs(self.dir, exist_ok=True)
        self.database = f"bench_erp_{mode}"
        self.verify_database = f"bench_verify_{mode}"
        self.bucket = f"drctl-bench-{mode}"
        self.backup_name = f"{self.database}_backup_20261124_020000.sql.gz"
        self.data = os.path.join(self.dir, "data")
        self.archive_source = os.path.join(self.data, "archive-source")
        self.archive_destination = os.path.join(self.dir, "archive")
        self.download = os.path.join(self.dir, "tmp-download")
        self.results = {"mode": mode, "build": build, "runs": self.config["runs"], "measures": {}}

    # ---------------------------------------------------------------- setup

    def build_drctl(self):
        log(f"building drctl ({self.build}): swift build -c {self.build} --product drctl")
        run(["swift", "build", "-c", self.build, "--product", "drctl"], cwd=ROOT)
        self.drctl = os.path.join(ROOT, ".build", self.build, "drctl")
        if not os.access(self.drctl, os.X_OK):
            fail(f"{self.drctl} was not built")

    def start_world(self):
        self.kube = KubeStandIn(os.path.join(self.dir, "kube"))
        self.manifest = os.path.join(self.dir, "manifests", "bench.yaml")
        os.makedirs(os.path.dirname(self.manifest), exist_ok=True)
        helm_values = os.path.join(ROOT, "values/sandbox")
        with open(self.manifest, "w") as out:
            out.write(f"""# Written by scripts/bench for its own world; not a user manifest.
environment: bench-{self.mode}
kube: {{ context: drctl-sandbox, namespace: sandbox, kubeconfig: {self.kube.kubeconfig} }}
database:
  host: {self.stack.host}
  port: {self.stack.port}
  user: {self.stack.user}
  name: {self.database}
  password: {{ env: DRCTL_PG_PASSWORD }}
  smokeQuery: SELECT COUNT(*) FROM documents_header
backups:
  local: {self.dir}/backups
  sizeFloor: 1KiB
  retention: {{ daily: 60, monthly: 12 }}
  s3: {{ bucket: {self.bucket}, prefix: postgresql/ }}
releases:
  postgresql: {{ name: postgresql, chart: {ROOT}/charts/sandbox-postgresql, values: {helm_values}/postgresql.yaml }}
  app:
    name: valeo-erp
    chart: {ROOT}/charts/sample-app
    values: {helm_values}/valeo-erp.yaml
    deployment: valeo-erp
    replicas: 2
readiness: {{ url: "{self.readyz}", timeout: 2m }}
archive: {{ source: "s3://{self.bucket}/archives/", destination: "{self.archive_destination}/" }}
provision:
  - name: create-namespace
    command: [kubectl, create, namespace, sandbox]
    check: [kubectl, get, namespace, sandbox]
    timeout: 1m
objectives: {{ rpo: 1000d, rto: 4h }}
""")
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kube.kubeconfig
        env["HOME"] = os.path.join(self.dir, "home")
        env["DRCTL_HELM"] = os.path.join(ROOT, ".tools/bin/helm")
        for name in ("DB_HOST", "DB_PORT", "DB_USER", "DB_NAME", "DB_PASSWORD", "PGPASSWORD"):
            env.pop(name, None)
        os.makedirs(env["HOME"], exist_ok=True)
        self.env = env

    @property
    def readyz(self):
        return f"{self.kube.url}/_standin/apps/sandbox/valeo-erp/readyz"

    def data_key(self):
        inputs = {k: self.config[k] for k in ("rows", "archive_files", "archive_kb", "verify_rows")}
        inputs["version"] = DATA_VERSION
        inputs["database"] = self.database
        return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]

    def prepare_data(self):
        key_file = os.path.join(self.data, "key")
        backup = os.path.join(self.data, self.backup_name)
        cached = (os.path.exists(key_file) and open(key_file).read().strip() == self.data_key()
                  and os.path.exists(backup) and os.path.exists(backup + ".sha256")
                  and os.path.isdir(self.archive_source))
        if cached:
            log(f"data cached in {self.data} (inputs unchanged)")
        else:
            shutil.rmtree(self.data, ignore_errors=True)
            os.makedirs(self.data)
            self.generate_database()
            self.generate_archive()
            with open(key_file, "w") as out:
                out.write(self.data_key() + "\n")
        self.upload()
        self.results["data"] = json.load(open(os.path.join(self.data, "data.json")))

    def generate_database(self):
        rows = self.config["rows"]
        log(f"generating {rows} documents server-side in {self.database} (random words and numbers)")
        self.stack.drop_like(self.database)
        self.stack.sql("postgres", f'CREATE DATABASE "{self.database}"')
        started = time.monotonic()
        self.stack.sql(self.database, self.generator_sql(rows))
        generated = time.monotonic() - started
        log(f"generated in {generated:.0f} s; pg_dump | gzip")
        backup = os.path.join(self.data, self.backup_name)
        sql_bytes = self.dump(self.database, backup)
        digest = hashlib.sha256()
        with open(backup, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        with open(backup + ".sha256", "w") as out:
            out.write(f"{digest.hexdigest()}  {self.backup_name}\n")
        gz_bytes = os.path.getsize(backup)
        info = {"rows": rows, "sqlBytes": sql_bytes, "gzipBytes": gz_bytes,
                "gzipRatio": round(sql_bytes / gz_bytes, 2), "generateSeconds": round(generated, 1)}
        json.dump(info, open(os.path.join(self.data, "data.json"), "w"), indent=2)
        log(f"dump: {sql_bytes / 1e6:.0f} MB SQL, {gz_bytes / 1e6:.0f} MB gzip ({info['gzipRatio']}:1)")
        self.stack.drop_like(self.database)

    def generator_sql(self, rows):
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
            folder = os.path.join(self.archive_source, f"20{20 + index % 7}", f"{index % 12 + 1:02d}")
            os.makedirs(folder, exist_ok=True)
            target = rng.randint(kb * 512, kb * 1536)
            parts, size = [], 0
            while size < target:
                line = " ".join(rng.choice(WORDS) for _ in range(12)) + f" {rng.randint(0, 99999)}\n"
                parts.append(line)
                size += len(line.encode())
            with open(os.path.join(folder, f"doc-{index:05d}.txt"), "w") as out:
                out.write("".join(parts))

    def aws(self, *args, check=True, capture=False):
        return run(["aws", *args], env=self.env, check=check, capture=capture)

    def upload(self):
        backup = os.path.join(self.data, self.backup_name)
        key = f"s3://{self.bucket}/postgresql/{self.backup_name}"
        present = self.aws("s3", "ls", key, check=False, capture=True)
        files = sum(len(f) for _, _, f in os.walk(self.archive_source))
        listed = self.aws("s3", "ls", f"s3://{self.bucket}/archives/", "--recursive", check=False, capture=True)
        uploaded = len([line for line in listed.stdout.splitlines() if line.strip()]) if listed.returncode == 0 else 0
        if present.returncode == 0 and self.backup_name in present.stdout and uploaded == files:
            log(f"s3://{self.bucket} holds the backup and {files} archive files")
            return
        log(f"uploading the backup and {files} archive files to s3://{self.bucket}")
        self.aws("s3", "mb", f"s3://{self.bucket}", check=False)
        self.aws("s3", "cp", backup, key, "--only-show-errors")
        self.aws("s3", "cp", backup + ".sha256", key + ".sha256", "--only-show-errors")
        self.aws("s3", "sync", self.archive_source, f"s3://{self.bucket}/archives/", "--only-show-errors")

    # ---------------------------------------------------------------- contenders

    def lose_everything(self):
        """The disaster before every rebuild: an empty cluster, no database, no archive folder, no scratch."""
        self.kube.reset()
        self.stack.drop_like(self.database)
        for folder in (self.archive_destination, self.download, os.path.join(self.dir, "state")):
            shutil.rmtree(folder, ignore_errors=True)

    def state_env(self, label):
        env = dict(self.env)
        env["DRCTL_STATE_DIR"] = os.path.join(self.dir, "state", label)
        return env

    def drctl_rebuild(self, label, on_line=None):
        env = self.state_env(label)
        sampler = Sampler([self.drctl, "rebuild", "-f", self.manifest, "-o", "json"], env,
                          os.path.join(self.dir, f"{label}.out"), on_line=on_line)
        return sampler, env

    def timed_drctl_rebuild(self, label):
        self.lose_everything()
        sampler, _ = self.drctl_rebuild(label)
        if sampler.wait() != 0:
            fail(f"drctl rebuild exited {sampler.process.returncode}; see {sampler.stdout_path}")
        self.check_restored()
        return {"seconds": sampler.wall, "ownCPU": sampler.own_cpu, "totalCPU": sampler.total_cpu}

    def write_manual_script(self):
        """The runbook's Szenario 2, steps 3-7, as a plain shell script (argv from the same manifest values)."""
        path = os.path.join(self.dir, "runbook-szenario2.sh")
        helm = os.path.join(ROOT, ".tools/bin/helm")
        download = os.path.join(self.download, self.backup_name)
        psql = " ".join(self.stack.psql_argv("postgres"))
        psql_db = " ".join(self.stack.psql_argv(self.database))
        with open(path, "w") as out:
            out.write(f"""#!/usr/bin/env bash
# Runbook Szenario 2 done by hand, in order (written by scripts/bench). Secrets come from the environment and a
# 0600 values file, as drctl passes them; otherwise these are the runbook's commands.
set -euo pipefail
export PGPASSWORD="$DRCTL_PG_PASSWORD"
secrets="$(mktemp)"; trap 'rm -f "$secrets"' EXIT
printf 'auth: {{password: "%s"}}\\nenv:\\n  - {{name: DATABASE_URL, value: "postgresql://{self.stack.user}:%s@{self.stack.host}:{self.stack.port}/{self.database}"}}\\n' "$DRCTL_PG_PASSWORD" "$DRCTL_PG_PASSWORD" > "$secrets"
# 3. Deploy PostgreSQL
{helm} install postgresql {ROOT}/charts/sandbox-postgresql --namespace sandbox --create-namespace \\
  -f {ROOT}/values/sandbox/postgresql.yaml -f "$secrets" --wait --timeout 10m >/dev/null
# 4. Restore database from S3 (download to /tmp, then scripts/restore-db.sh: create, gunzip -c | psql)
mkdir -p {self.download}
aws s3 cp s3://{self.bucket}/postgresql/{self.backup_name} {download} --only-show-errors
{psql} -c 'CREATE DATABASE "{self.database}"'
gunzip -c {download} | {psql_db} >/dev/null
# 5. Deploy application
{helm} install valeo-erp {ROOT}/charts/sample-app --namespace sandbox -f {ROOT}/values/sandbox/valeo-erp.yaml \\
  -f "$secrets" --wait --timeout 10m >/dev/null
# 6. Verify deployment
kubectl get pods -n sandbox >/dev/null
until curl -fsS {self.readyz} >/dev/null; do sleep 1; done
# 7. Restore archive files from S3
aws s3 sync s3://{self.bucket}/archives/ {self.archive_destination}/ --only-show-errors
""")
        os.chmod(path, 0o755)
        return path

    def timed_manual(self, script):
        self.lose_everything()
        run(["kubectl", "create", "namespace", "sandbox"], env=self.env)  # step 1: provision (the hook's command)
        started = time.monotonic()
        result = subprocess.run([script], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.monotonic() - started
        if result.returncode != 0:
            fail(f"the runbook script exited {result.returncode}: {result.stderr[-800:]}")
        self.check_restored()
        return {"seconds": seconds}

    def check_restored(self):
        count = int(self.stack.sql(self.database, "SELECT count(*) FROM documents_header"))
        if count != self.config["rows"]:
            fail(f"{self.database} holds {count} documents after the run, expected {self.config['rows']}")
        files = sum(len(f) for _, _, f in os.walk(self.archive_destination))
        if files != self.config["archive_files"]:
            fail(f"{self.archive_destination} holds {files} files after the run, expected {self.config['archive_files']}")

    # ---------------------------------------------------------------- measures

    def p1_rebuild(self):
        log("P1: drctl rebuild vs the runbook's Szenario 2 as a shell script (alternating)")
        script = self.write_manual_script()
        drctl_runs, manual_runs = [], []
        for index in range(self.config["runs"]):
            drctl_runs.append(self.timed_drctl_rebuild(f"p1-drctl-{index}"))
            log(f"  drctl rebuild #{index + 1}: {drctl_runs[-1]['seconds']:.1f} s")
            manual_runs.append(self.timed_manual(script))
            log(f"  runbook script #{index + 1}: {manual_runs[-1]['seconds']:.1f} s")
        drctl = median(r["seconds"] for r in drctl_runs)
        manual = median(r["seconds"] for r in manual_runs)
        self.p1_runs = drctl_runs
        self.results["measures"]["P1"] = {
            "what": "drctl rebuild vs runbook Szenario 2 script", "drctlSeconds": drctl_runs and [r["seconds"] for r in drctl_runs],
            "baselineSeconds": [r["seconds"] for r in manual_runs], "drctlMedian": drctl, "baselineMedian": manual,
            "ratio": drctl / manual, "target": 0.6, "met": drctl / manual <= 0.6}

    def p2_restore(self):
        help_text = run([self.drctl, "restore", "--help"], env=self.env, check=False, capture=True).stdout
        if "not implemented yet" in help_text.lower().replace("\n", " "):
            log("P2: this drctl build has no restore yet: not available yet")
            self.results["measures"]["P2"] = {"what": "drctl restore vs gunzip -c | psql", "available": False,
                                              "note": "not available yet", "target": 1.05}
            return
        log("P2: drctl restore vs gunzip -c backup | psql (alternating)")
        backup = os.path.join(self.data, self.backup_name)
        raw_db = f"{self.database}_raw"
        self.lose_everything()
        self.timed_drctl_rebuild("p2-setup")  # a running system to restore into
        # A freshly restored 1M-row database draws an autovacuum worker; drctl's restore (the live build) tries to
        # pg_terminate_backend it and fails as a non-superuser (see README). A database in service has been
        # vacuumed: vacuum it here, outside the timings.
        self.stack.sql(self.database, "VACUUM ANALYZE", superuser=True)
        drctl_runs, raw_runs = [], []
        for index in range(self.config["runs"]):
            env = self.state_env(f"p2-drctl-{index}")
            sampler = Sampler([self.drctl, "restore", "-f", self.manifest, "--yes", "-o", "json"], env,
                              os.path.join(self.dir, f"p2-drctl-{index}.out"))
            if sampler.wait() != 0:
                fail(f"drctl restore exited {sampler.process.returncode}; see {sampler.stdout_path}")
            drctl_runs.append(sampler.wall)
            log(f"  drctl restore #{index + 1}: {sampler.wall:.1f} s")
            self.stack.drop_like(f"{self.database}_before")
            self.stack.sql(self.database, "VACUUM ANALYZE", superuser=True)
            self.stack.drop_like(raw_db)
            self.stack.sql("postgres", f'CREATE DATABASE "{raw_db}"')
            started = time.monotonic()
            gunzip = subprocess.Popen(["gunzip", "-c", backup], stdout=subprocess.PIPE)
            psql = subprocess.run(self.stack.psql_argv(raw_db), stdin=gunzip.stdout, env=self.stack.env(),
                                  stdout=subprocess.DEVNULL)
            gunzip.stdout.close()
            if gunzip.wait() != 0 or psql.returncode != 0:
                fail("gunzip -c | psql failed")
            raw_runs.append(time.monotonic() - started)
            log(f"  gunzip | psql #{index + 1}: {raw_runs[-1]:.1f} s")
            self.stack.drop_like(raw_db)
        drctl, raw = median(drctl_runs), median(raw_runs)
        self.results["measures"]["P2"] = {
            "what": "drctl restore vs gunzip -c | psql", "available": True, "drctlSeconds": drctl_runs,
            "baselineSeconds": raw_runs, "drctlMedian": drctl, "baselineMedian": raw, "ratio": drctl / raw,
            "target": 1.05, "met": drctl / raw <= 1.05}

    def p3_resume(self):
        log("P3: SIGKILL during the archive sync, then drctl resume")
        full = self.results["measures"]["P1"]["drctlMedian"]
        total_files = self.config["archive_files"]
        runs = []
        for index in range(self.config["runs"]):
            self.lose_everything()
            label = f"p3-{index}"
            seen = set()

            def watch(line):
                try:
                    event = json.loads(line)
                except ValueError:
                    return
                if isinstance(event, dict) and event.get("step"):
                    seen.add((event.get("event"), event["step"]))

            sampler, env = self.drctl_rebuild(label, on_line=watch)
            killed_at = None
            while not sampler.exited():
                syncing = ("step-started", "archive.sync") in seen and ("step-completed", "archive.sync") not in seen
                # Not while helm is installing: a helm killed mid-install leaves a pending release (see README).
                helm_idle = ("step-completed", "postgresql.install") in seen and (
                    ("step-started", "app.install") not in seen or ("step-completed", "app.install") in seen)
                synced = ("step-completed", "archive.sync") in seen
                if helm_idle and (syncing or synced):
                    restored = ("step-completed", "database.restore") in seen
                    landed = sum(len(f) for _, _, f in os.walk(self.archive_destination))
                    # With tiny data (--smoke) the sync can be over before PostgreSQL is installed: then the kill
                    # comes right after it, and the run records that it missed the sync.
                    if synced or restored or landed >= total_files // 2:
                        sampler.kill_group()
                        killed_at = time.monotonic() - sampler.started
                        during_sync = not synced
                        break
                time.sleep(0.02)
            sampler.wait()
            if killed_at is None:
                fail(f"no moment to kill: the archive sync was over before PostgreSQL was installed or half the files "
                     f"had landed; see {sampler.stdout_path}")
            run_id = next((json.loads(line)["runID"] for line in sampler.lines if '"run-started"' in line), None)
            if not run_id:
                fail(f"no run id in {sampler.stdout_path}")
            journal = os.path.join(env["DRCTL_STATE_DIR"], "runs", run_id, "journal.jsonl")
            before = events(journal)
            restore_done_before = ("step-completed", "database.restore") in before
            restore_started_before = ("step-started", "database.restore") in before
            started = time.monotonic()
            resumed = subprocess.run([self.drctl, "resume", run_id, "-o", "json"], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            resume_seconds = time.monotonic() - started
            if resumed.returncode != 0:
                fail(f"drctl resume {run_id} exited {resumed.returncode}: {resumed.stderr[-800:]}")
            self.check_restored()
            after = events(journal)[len(before):]
            # Repeated: started before the kill and started again by the resume (not: first started by the resume).
            restore_restarted = restore_started_before and ("step-started", "database.restore") in after
            work_left = max(full - killed_at, 0.0)
            runs.append({"killedAfter": killed_at, "resumeSeconds": resume_seconds, "workLeft": work_left,
                         "killedDuringSync": during_sync, "restoreStartedBeforeKill": restore_started_before,
                         "restoreCompletedBeforeKill": restore_done_before, "restoreRepeated": restore_restarted})
            log(f"  killed after {killed_at:.1f} s ({'during' if during_sync else 'after'} the archive sync; restore done before: {restore_done_before}); resume "
                f"{resume_seconds:.1f} s, work left {work_left:.1f} s, restore repeated: {restore_restarted}")
        resume, left = median(r["resumeSeconds"] for r in runs), median(r["workLeft"] for r in runs)
        repeated = any(r["restoreRepeated"] and r["restoreCompletedBeforeKill"] for r in runs)
        in_flight = any(r["restoreRepeated"] and not r["restoreCompletedBeforeKill"] for r in runs)
        self.results["measures"]["P3"] = {
            "what": "resume after SIGKILL in the archive sync vs the work left", "runs": runs,
            "resumeMedian": resume, "workLeftMedian": left, "overheadSeconds": resume - left,
            "completedRestoreRepeated": repeated, "inFlightRestoreRedone": in_flight, "target": "resume <= work left + 5 s, restore not repeated",
            "met": resume <= left + 5 and not repeated}

    def p4_verify(self):
        log("P4: drctl backup verify over 42 unchanged backups, first vs second")
        db = self.verify_database
        manifest = os.path.join(self.dir, "manifests", "verify.yaml")
        backups = os.path.join(self.dir, "verify-backups")
        shutil.rmtree(backups, ignore_errors=True)
        text = open(self.manifest).read().replace(f"name: {self.database}\n", f"name: {db}\n").replace(
            f"local: {self.dir}/backups", f"local: {backups}")
        open(manifest, "w").write(text)
        self.stack.drop_like(db)
        self.stack.sql("postgres", f'CREATE DATABASE "{db}"')
        self.stack.sql(db, self.generator_sql(self.config["verify_rows"]))
        env = self.state_env("p4")
        run([self.drctl, "backup", "create", "-f", manifest], env=env)
        self.stack.drop_like(db)
        catalog_path = os.path.join(backups, "catalog.json")
        catalog = json.load(open(catalog_path))
        original = next(r for r in catalog["records"] if r["tier"] == "daily")
        name = file_name(original)
        stem_time = name[len(db) + len("_backup_"):-len(".sql.gz")]
        moment = datetime.datetime.strptime(stem_time, "%Y%m%d_%H%M%S")
        clones = 42 - len(catalog["records"])
        for index in range(1, clones + 1):
            new_name = f"{db}_backup_{(moment - datetime.timedelta(hours=index)).strftime('%Y%m%d_%H%M%S')}.sql.gz"
            shutil.copy2(os.path.join(backups, "daily", name), os.path.join(backups, "daily", new_name))
            catalog["records"].append(replace_strings(original, name, new_name))
        files = sum(len(f) for _, _, f in os.walk(os.path.join(backups, "daily"))) + \
            sum(len(f) for _, _, f in os.walk(os.path.join(backups, "monthly")))
        first_runs, second_runs = [], []
        for index in range(self.config["runs"]):
            for record in catalog["records"]:
                record.pop("verification", None)
            json.dump(catalog, open(catalog_path, "w"), indent=2)
            for bucket in (first_runs, second_runs):
                started = time.monotonic()
                result = run([self.drctl, "backup", "verify", "-f", manifest, "-o", "json"], env=env, check=False,
                             capture=True)
                bucket.append(time.monotonic() - started)
                if result.returncode != 0:
                    fail(f"drctl backup verify exited {result.returncode}: {result.stderr[-600:]}")
            log(f"  first {first_runs[-1]:.2f} s, second {second_runs[-1]:.2f} s ({files} files)")
        first, second = median(first_runs), median(second_runs)
        self.results["measures"]["P4"] = {
            "what": f"second drctl backup verify over {files} unchanged backups vs the first", "backups": files,
            "backupBytes": original.get("size"), "drctlSeconds": second_runs, "baselineSeconds": first_runs,
            "drctlMedian": second, "baselineMedian": first, "ratio": second / first, "target": 0.05,
            "met": second / first <= 0.05}

    def p5_overhead(self):
        log("P5: drctl's own CPU share of a rebuild; drctl plan rebuild latency")
        runs = self.p1_runs
        shares = [r["ownCPU"] / r["seconds"] for r in runs]
        cpu_shares = [r["ownCPU"] / r["totalCPU"] for r in runs if r["totalCPU"] > 0]
        latencies = []
        for _ in range(self.config["plan_runs"]):
            started = time.monotonic()
            run([self.drctl, "plan", "rebuild", "-f", self.manifest], env=self.state_env("plan"), capture=True)
            latencies.append(time.monotonic() - started)
        self.results["measures"]["P5cpu"] = {
            "what": "drctl's own CPU time / rebuild wall time", "ownCPUSeconds": [r["ownCPU"] for r in runs],
            "childrenCPUSeconds": [r["totalCPU"] - r["ownCPU"] for r in runs], "wallSeconds": [r["seconds"] for r in runs],
            "shareOfWall": median(shares), "shareOfAllCPU": median(cpu_shares) if cpu_shares else None,
            "target": 0.01, "met": median(shares) <= 0.01}
        self.results["measures"]["P5plan"] = {
            "what": "drctl plan rebuild latency", "seconds": latencies, "median": median(latencies),
            "target": 0.1, "met": median(latencies) <= 0.1}

    # ---------------------------------------------------------------- report

    def machine(self):
        model = "unknown"
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        memory = 0
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
        return {"nproc": os.cpu_count(), "memoryGiB": round(memory / 2**30, 1), "cpu": model,
                "kernel": platform.release(), "loadAverage": [round(x, 1) for x in os.getloadavg()],
                "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}

    def table(self):
        m = self.results["measures"]
        rows = [("measure", "drctl", "baseline", "ratio / value", "target", "met")]

        def sec(x):
            return f"{x:.1f} s" if x >= 1 else f"{x * 1000:.0f} ms"

        if "P1" in m:
            p = m["P1"]
            rows.append(("P1 rebuild vs runbook script", sec(p["drctlMedian"]), sec(p["baselineMedian"]),
                         f"{p['ratio']:.2f}", "≤ 0.60", yes(p["met"])))
        if "P2" in m:
            p = m["P2"]
            if p.get("available"):
                rows.append(("P2 restore vs raw gunzip → psql", sec(p["drctlMedian"]), sec(p["baselineMedian"]),
                             f"{p['ratio']:.2f}", "≤ 1.05", yes(p["met"])))
            else:
                rows.append(("P2 restore vs raw gunzip → psql", "not available yet", "—", "—", "≤ 1.05", "—"))
        if "P3" in m:
            p = m["P3"]
            rows.append(("P3 resume after SIGKILL in sync", sec(p["resumeMedian"]), f"left {sec(p['workLeftMedian'])}",
                         f"{p['overheadSeconds']:+.1f} s, restore repeated: {yes(p['completedRestoreRepeated'])}",
                         "≤ +5 s, not repeated",
                         yes(p["met"])))
        if "P4" in m:
            p = m["P4"]
            rows.append((f"P4 verify {p['backups']} backups, 2nd vs 1st", sec(p["drctlMedian"]),
                         sec(p["baselineMedian"]), f"{p['ratio']:.3f}", "≤ 0.05", yes(p["met"])))
        if "P5cpu" in m:
            p = m["P5cpu"]
            rows.append(("P5 drctl own CPU / rebuild", f"{median(p['ownCPUSeconds']):.2f} s CPU",
                         f"{sec(median(p['wallSeconds']))} wall", f"{p['shareOfWall'] * 100:.2f} %", "≤ 1 %",
                         yes(p["met"])))
            p = m["P5plan"]
            rows.append((f"P5 drctl plan rebuild ({len(p['seconds'])} runs)", sec(p["median"]), "—", sec(p["median"]),
                         "≤ 100 ms", yes(p["met"])))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(lines)

    def finish(self, out):
        self.results["machine"] = self.machine()
        self.results["config"] = self.config
        table = self.table()
        self.results["table"] = table
        d = self.results.get("data", {})
        print()
        build = f"{self.build} build" if "drctl" not in self.results else f"drctl {self.results['drctl']}"
        print(f"drctl benchmarks ({self.mode}, {build}, median of {self.config['runs']} run(s) each; "
              f"dump {d.get('sqlBytes', 0) / 1e6:.0f} MB SQL / {d.get('gzipBytes', 0) / 1e6:.0f} MB gzip, "
              f"{self.config['archive_files']} archive files)")
        print(table)
        mach = self.results["machine"]
        print(f"machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['memoryGiB']} GiB, load {mach['loadAverage']},"
              f" {mach['date']}")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump(self.results, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(f"written: {os.path.relpath(out, ROOT)}")


def events(journal):
    found = []
    if not os.path.exists(journal):
        return found
    for line in open(journal):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        step = obj.get("step")
        if isinstance(step, dict):
            step = step.get("rawValue")
        found.append((obj.get("type"), step))
    return found


def file_name(record):
    name = record["name"]
    if isinstance(name, dict):
        name = name.get("fileName") or next(v for v in name.values() if isinstance(v, str) and v.endswith(".sql.gz"))
    return name if name.endswith(".sql.gz") else name + ".sql.gz"


def replace_strings(value, old, new):
    old_stem, new_stem = old[:-len(".sql.gz")], new[:-len(".sql.gz")]
    if isinstance(value, dict):
        return {k: replace_strings(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_strings(v, old, new) for v in value]
    if isinstance(value, str):
        return value.replace(old, new).replace(old_stem, new_stem)
    return value


def median(values):
    return statistics.median(list(values))


def yes(flag):
    return "yes" if flag else "NO"


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny data, 1 run each, debug build (for scripts/test)")
    parser.add_argument("--build", choices=["debug", "release"], help="default: release (full), debug (smoke)")
    parser.add_argument("--runs", type=int, help="runs per contender (default: 3 full, 1 smoke)")
    parser.add_argument("--only", help="comma-separated subset of P1,P2,P3,P4,P5 (P3 and P5 need P1)")
    parser.add_argument("--drctl", help="use this drctl binary instead of building one (say which in reports)")
    parser.add_argument("--prepare-only", action="store_true", help="build and upload the data, measure nothing")
    parser.add_argument("--out", help="JSON results (default: bench-results/latest.json full, "
                                      ".stack/bench/smoke/results.json smoke)")
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "full"
    bench = Bench(mode, args.build or ("debug" if args.smoke else "release"), args.runs)
    out = args.out or (os.path.join(bench.dir, "results.json") if args.smoke
                       else os.path.join(ROOT, "bench-results", "latest.json"))
    only = set((args.only or "P1,P2,P3,P4,P5").upper().split(","))
    if args.only and os.path.exists(out):
        # A partial run updates the measures it took in the existing results; the others are kept as they were.
        bench.results["measures"] = json.load(open(out)).get("measures", {})
    if only & {"P3", "P5"}:
        only.add("P1")
    started = time.monotonic()
    if args.drctl:
        bench.drctl = os.path.abspath(args.drctl)
        bench.results["drctl"] = bench.drctl
    elif not args.prepare_only:
        bench.build_drctl()
    bench.start_world()
    try:
        bench.prepare_data()
        if args.prepare_only:
            return
        if "P1" in only:
            bench.p1_rebuild()
        if "P2" in only:
            bench.p2_restore()
        if "P3" in only:
            if "P1" not in bench.results["measures"]:
                fail("P3 needs P1's median rebuild time")
            bench.p3_resume()
        if "P4" in only:
            bench.p4_verify()
        if "P5" in only:
            bench.p5_overhead()
    except SystemExit:
        if bench.results["measures"]:
            bench.results["incomplete"] = True
            bench.finish(out)
        raise
    else:
        bench.results["benchSeconds"] = round(time.monotonic() - started, 1)
        bench.finish(out)
    finally:
        bench.kube.stop()
        bench.stack.drop_like(bench.database)
        bench.stack.drop_like(bench.verify_database)


if __name__ == "__main__":
    main()
