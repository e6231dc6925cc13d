"""What scripts/bench measures: each contender (drctl, the runbook done by hand, the raw pipeline) in the same
world on the same data, alternately, and the measures P1-P5 built from their runs into `results["measures"]`."""

import datetime
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

from .common import ROOT, fail, log, median, run
from .data import generator_sql


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
        self.peak_rss = 0
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
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):  # peak resident set size, kB
                        self.peak_rss = max(self.peak_rss, int(line.split()[1]) * 1024)
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


class ReadyWatcher:
    """Polls the app's readyz every 50 ms while in use and sums the time it was not answering 200; on leaving,
    waits (up to 2 min) until it answers 200 again, so a run that ends with the app still starting is counted."""

    def __init__(self, url):
        self.url = url
        self.down = 0.0
        self.stopping = threading.Event()

    def ready(self):
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                return response.status == 200
        except (OSError, ValueError):
            return False

    def _poll(self):
        last = time.monotonic()
        while True:
            ok = self.ready()
            now = time.monotonic()
            if not ok:
                self.down += now - last
            last = now
            if self.stopping.is_set() and (ok or now - self.stopped > 120):
                return
            time.sleep(0.05)

    def __enter__(self):
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = time.monotonic()
        self.stopping.set()
        self.thread.join()
        self.seconds = self.stopped - self.started
        return False

    def result(self):
        return {"downSeconds": round(self.down, 3), "seconds": round(self.seconds, 2)}


class Measures:
    """The contenders and measures of one world; every measure writes its entry into results["measures"]."""

    def __init__(self, world, results):
        self.world = world
        self.results = results
        self.p1_runs = []
        self.system_ready = False
        self.last_create = 0.0

    def drctl_rebuild(self, label, on_line=None, manifest=None):
        env = self.world.state_env(label)
        sampler = Sampler([self.world.drctl, "rebuild", "-f", manifest or self.world.manifest, "-o", "json"], env,
                          os.path.join(self.world.dir, f"{label}.out"), on_line=on_line)
        return sampler, env

    def timed_drctl_rebuild(self, label, manifest=None, archive=None):
        self.lose_everything()
        sampler, _ = self.drctl_rebuild(label, manifest=manifest)
        if sampler.wait() != 0:
            fail(f"drctl rebuild exited {sampler.process.returncode}; see {sampler.stdout_path}")
        self.world.check_restored(archive)
        return {"seconds": sampler.wall, "ownCPU": sampler.own_cpu, "totalCPU": sampler.total_cpu,
                "lines": sampler.lines}

    def write_manual_script(self):
        """The runbook's Szenario 2, steps 3-7, as a plain shell script (argv from the same manifest values)."""
        path = os.path.join(self.world.dir, "runbook-szenario2.sh")
        helm = os.path.join(ROOT, ".tools/bin/helm")
        download = os.path.join(self.world.download, self.world.backup_name)
        psql = " ".join(self.world.stack.psql_argv("postgres"))
        psql_db = " ".join(self.world.stack.psql_argv(self.world.database))
        with open(path, "w") as out:
            out.write(f"""#!/usr/bin/env bash
# Runbook Szenario 2 done by hand, in order (written by scripts/bench). Secrets come from the environment and a
# 0600 values file, as drctl passes them; otherwise these are the runbook's commands.
set -euo pipefail
export PGPASSWORD="$DRCTL_PG_PASSWORD"
secrets="$(mktemp)"; trap 'rm -f "$secrets"' EXIT
printf 'auth: {{password: "%s"}}\\nenv:\\n  - {{name: DATABASE_URL, value: "postgresql://{self.world.stack.user}:%s@{self.world.stack.host}:{self.world.stack.port}/{self.world.database}"}}\\n' "$DRCTL_PG_PASSWORD" "$DRCTL_PG_PASSWORD" > "$secrets"
# 3. Deploy PostgreSQL
{helm} install postgresql {ROOT}/charts/sandbox-postgresql --namespace sandbox --create-namespace \\
  -f {ROOT}/values/sandbox/postgresql.yaml -f "$secrets" --wait --timeout 10m >/dev/null
# 4. Restore database from S3 (download to /tmp, then scripts/restore-db.sh: create, gunzip -c | psql)
mkdir -p {self.world.download}
aws s3 cp s3://{self.world.bucket}/postgresql/{self.world.backup_name} {download} --only-show-errors
{psql} -c 'CREATE DATABASE "{self.world.database}"'
gunzip -c {download} | {psql_db} >/dev/null
# 5. Deploy application
{helm} install valeo-erp {ROOT}/charts/sample-app --namespace sandbox -f {ROOT}/values/sandbox/valeo-erp.yaml \\
  -f "$secrets" --wait --timeout 10m >/dev/null
# 6. Verify deployment
kubectl get pods -n sandbox >/dev/null
until curl -fsS {self.world.readyz} >/dev/null; do sleep 1; done
# 7. Restore archive files from S3
aws s3 sync s3://{self.world.bucket}/archives/ {self.world.archive_destination}/ --only-show-errors
""")
        os.chmod(path, 0o755)
        return path

    def timed_manual(self, script):
        self.lose_everything()
        run(["kubectl", "create", "namespace", "sandbox"], env=self.world.env)  # step 1: provision (the hook's command)
        started = time.monotonic()
        result = subprocess.run([script], env=self.world.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.monotonic() - started
        if result.returncode != 0:
            fail(f"the runbook script exited {result.returncode}: {result.stderr[-800:]}")
        self.world.check_restored()
        return {"seconds": seconds}

    def p1_rebuild(self):
        log("P1: drctl rebuild vs the runbook's Szenario 2 as a shell script (alternating)")
        script = self.write_manual_script()
        drctl_runs, manual_runs = [], []
        for index in range(self.world.config["runs"]):
            drctl_runs.append(self.timed_drctl_rebuild(f"p1-drctl-{index}"))
            drctl_runs[-1]["steps"] = step_times(drctl_runs[-1]["lines"])
            log(f"  drctl rebuild #{index + 1}: {drctl_runs[-1]['seconds']:.1f} s; its steps (start → end, seconds"
                " after the run started):")
            for step in drctl_runs[-1]["steps"]:
                log(f"    {step['start']:6.2f} → {step['end']:6.2f}  {step['seconds']:5.2f} s  {step['step']}")
            manual_runs.append(self.timed_manual(script))
            log(f"  runbook script #{index + 1}: {manual_runs[-1]['seconds']:.1f} s")
        drctl = median(r["seconds"] for r in drctl_runs)
        manual = median(r["seconds"] for r in manual_runs)
        self.p1_runs = drctl_runs
        self.results["measures"]["P1"] = {
            "what": "drctl rebuild vs runbook Szenario 2 script", "drctlSeconds": drctl_runs and [r["seconds"] for r in drctl_runs],
            "drctlStepTimes": [r["steps"] for r in drctl_runs],
            "baselineSeconds": [r["seconds"] for r in manual_runs], "drctlMedian": drctl, "baselineMedian": manual,
            "ratio": drctl / manual, "target": 0.6, "met": drctl / manual <= 0.6}

    def p8_job_rebuild(self):
        log("P8: drctl rebuild with database.dataPlane: job vs local, same backup and archive (alternating)")
        manifest = self.world.write_manifest("job.yaml", data_plane="job")
        job_runs, local_runs = [], []
        for index in range(self.world.config["runs"]):
            job = self.timed_drctl_rebuild(f"p8-job-{index}", manifest=manifest, archive=self.world.archive_claim_folder)
            if not any("restore-load" in line for line in job["lines"]):
                fail(f"the job-mode rebuild did not load the backup in a Job; see {self.world.dir}/p8-job-{index}.out")
            job_runs.append(job["seconds"])
            log(f"  drctl rebuild, dataPlane job #{index + 1}: {job_runs[-1]:.1f} s")
            local_runs.append(self.timed_drctl_rebuild(f"p8-local-{index}")["seconds"])
            log(f"  drctl rebuild, dataPlane local #{index + 1}: {local_runs[-1]:.1f} s")
        job, local = median(job_runs), median(local_runs)
        self.results["measures"]["P8"] = {
            "what": "drctl rebuild, database.dataPlane job (restore and archive sync in Jobs) vs local",
            "drctlSeconds": job_runs, "baselineSeconds": local_runs, "drctlMedian": job, "baselineMedian": local,
            "ratio": job / local, "shards": self.world.config["job_shards"], "target": None, "met": None}

    # ---------------------------------------------------------------- a running system (P2a, P2b, P6, P7)

    def lose_everything(self):
        self.world.lose_everything()
        self.system_ready = False

    def running_system(self):
        """A rebuilt system to restore into and back up from, made once per bench run."""
        if self.system_ready:
            return
        self.lose_everything()
        self.timed_drctl_rebuild("setup")
        self.vacuum()
        self.system_ready = True

    def vacuum(self):
        # A freshly restored database draws an autovacuum worker that a non-superuser's DROP cannot end (see
        # README). A database in service has been vacuumed: vacuum it here, outside the timings.
        self.world.stack.sql(self.world.database, "VACUUM ANALYZE", superuser=True)

    def after_restore(self):
        """drctl restore keeps the replaced database as <db>_before_<run>: dropped outside the timings."""
        self.world.check_rows()
        self.world.stack.drop_like(f"{self.world.database}_before")
        self.vacuum()

    @property
    def local_manifest(self):
        """The bench manifest with a local backup folder of its own (P2a, P6, P7 write and read it)."""
        return self.world.write_manifest("local.yaml", local=self.local_folder)

    @property
    def local_folder(self):
        return os.path.join(self.world.dir, "local-backups")

    def backup_create(self, label, manifest=None):
        """drctl backup create into the local folder; returns its wall time. Backup names carry the second, so
        two creates are at least a second apart."""
        wait = self.last_create + 1.05 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.last_create = time.monotonic()
        started = time.monotonic()
        run([self.world.drctl, "backup", "create", "-f", manifest or self.local_manifest, "-o", "json"],
            env=self.world.state_env(label))
        return time.monotonic() - started

    def local_backup(self):
        """The newest backup in the local folder (made by drctl backup create if there is none): what drctl
        restore picks there, and the file the raw baselines read."""
        daily = os.path.join(self.local_folder, "daily")
        names = sorted(n for n in os.listdir(daily) if n.endswith(".sql.gz")) if os.path.isdir(daily) else []
        if not names:
            self.backup_create("local-backup")
            names = sorted(n for n in os.listdir(daily) if n.endswith(".sql.gz"))
        return os.path.join(daily, names[-1])

    def drctl_restore(self, label, manifest):
        sampler = Sampler([self.world.drctl, "restore", "-f", manifest, "--yes", "-o", "json"],
                          self.world.state_env(label), os.path.join(self.world.dir, f"{label}.out"))
        if sampler.wait() != 0:
            fail(f"drctl restore exited {sampler.process.returncode}; see {sampler.stdout_path}")
        return sampler

    def raw_restore(self, source_argv, label):
        """source | gunzip -c | psql into a new database, as by hand; returns its wall time."""
        stack, raw_db = self.world.stack, f"{self.world.database}_raw"
        stack.drop_like(raw_db)
        started = time.monotonic()
        stack.sql("postgres", f'CREATE DATABASE "{raw_db}"')
        source = subprocess.Popen(source_argv, env=self.world.env, stdout=subprocess.PIPE)
        gunzip = subprocess.Popen(["gunzip", "-c"], stdin=source.stdout, stdout=subprocess.PIPE)
        source.stdout.close()
        psql = subprocess.run(stack.psql_argv(raw_db), stdin=gunzip.stdout, env=stack.env(), stdout=subprocess.DEVNULL)
        gunzip.stdout.close()
        if source.wait() != 0 or gunzip.wait() != 0 or psql.returncode != 0:
            fail(f"{label} failed")
        seconds = time.monotonic() - started
        self.world.check_rows(raw_db)
        stack.drop_like(raw_db)
        return seconds

    def restore_pair(self, key, what, manifest, source_argv, baseline):
        """drctl restore and the raw pipeline alternately, both into a new database, on the same backup."""
        drctl_runs, raw_runs, samples = [], [], []
        for index in range(self.world.config["runs"]):
            sampler = self.drctl_restore(f"{key.lower()}-drctl-{index}", manifest)
            drctl_runs.append(sampler.wall)
            samples.append({"ownCPU": sampler.own_cpu, "peakRSS": sampler.peak_rss})
            log(f"  drctl restore #{index + 1}: {drctl_runs[-1]:.1f} s")
            self.after_restore()
            raw_runs.append(self.raw_restore(source_argv, baseline))
            log(f"  {baseline} #{index + 1}: {raw_runs[-1]:.1f} s")
        drctl, raw = median(drctl_runs), median(raw_runs)
        self.results["measures"][key] = {
            "what": what, "drctlSeconds": drctl_runs, "baselineSeconds": raw_runs, "drctlProcess": samples,
            "drctlMedian": drctl, "baselineMedian": raw, "ratio": drctl / raw, "target": 1.05,
            "met": drctl / raw <= 1.05}

    # ---------------------------------------------------------------- P2a, P2b, P6, P7

    def p2a_restore_local(self):
        log("P2a: drctl restore from the local backup folder vs gunzip -c FILE | psql (alternating)")
        self.running_system()
        backup = self.local_backup()
        self.restore_pair("P2a", "drctl restore (local folder) vs gunzip -c FILE | psql, into a new database",
                          self.local_manifest, ["cat", backup], "gunzip -c FILE | psql")

    def p2b_restore_offsite(self):
        log("P2b: drctl restore from off-site vs aws s3 cp s3://… - | gunzip -c | psql (alternating)")
        self.running_system()
        key = f"s3://{self.world.bucket}/postgresql/{self.world.backup_name}"
        # The main manifest's local folder stays empty, so drctl restores from off-site.
        self.restore_pair("P2b", "drctl restore (off-site) vs aws s3 cp - | gunzip -c | psql, into a new database",
                          self.world.manifest, ["aws", "s3", "cp", key, "-"], "aws s3 cp - | gunzip -c | psql")

    def write_szenario1_script(self, backup):
        """The runbook's Szenario 1 in its order: the app at 0 for the whole restore (restore-db.sh: drop, create,
        gunzip -c | psql), then scaled back and readyz awaited."""
        w = self.world
        path = os.path.join(w.dir, "runbook-szenario1.sh")
        psql = " ".join(w.stack.psql_argv("postgres"))
        psql_db = " ".join(w.stack.psql_argv(w.database))
        with open(path, "w") as out:
            out.write(f"""#!/usr/bin/env bash
# Runbook Szenario 1 done by hand, in order (written by scripts/bench).
set -euo pipefail
export PGPASSWORD="$DRCTL_PG_PASSWORD"
# 1. Stop application
kubectl scale deployment valeo-erp --replicas=0 -n sandbox >/dev/null
# 3. Restore from backup (restore-db.sh: drop, create, load)
{psql} -c 'DROP DATABASE IF EXISTS "{w.database}" WITH (FORCE)'
{psql} -c 'CREATE DATABASE "{w.database}"'
gunzip -c {backup} | {psql_db} >/dev/null
# 4. Verify restore
{psql_db} -At -c 'SELECT COUNT(*) FROM documents_header' >/dev/null
# 5. Restart application
kubectl scale deployment valeo-erp --replicas=2 -n sandbox >/dev/null
# 6. Verify health
until curl -fsS {w.readyz} >/dev/null 2>&1; do sleep 0.2; done
""")
        os.chmod(path, 0o755)
        return path

    def p6_downtime(self):
        log("P6: time the app is not serving (readyz failing): drctl restore vs the runbook's order (alternating)")
        self.running_system()
        backup = self.local_backup()
        script = self.write_szenario1_script(backup)
        drctl_runs, runbook_runs = [], []
        for index in range(self.world.config["runs"]):
            with ReadyWatcher(self.world.readyz) as watcher:
                self.drctl_restore(f"p6-drctl-{index}", self.local_manifest)
            drctl_runs.append(watcher.result())
            self.after_restore()
            log(f"  drctl restore #{index + 1}: app down {drctl_runs[-1]['downSeconds']:.2f} s of "
                f"{drctl_runs[-1]['seconds']:.1f} s")
            with ReadyWatcher(self.world.readyz) as watcher:
                run([script], env=self.world.env)
            runbook_runs.append(watcher.result())
            self.world.check_rows()
            self.vacuum()
            log(f"  runbook order #{index + 1}: app down {runbook_runs[-1]['downSeconds']:.2f} s of "
                f"{runbook_runs[-1]['seconds']:.1f} s")
        drctl = median(r["downSeconds"] for r in drctl_runs)
        runbook = median(r["downSeconds"] for r in runbook_runs)
        self.results["measures"]["P6"] = {
            "what": "app downtime (readyz failing) during drctl restore vs the runbook's Szenario 1 order",
            "drctlRuns": drctl_runs, "baselineRuns": runbook_runs, "drctlMedian": drctl, "baselineMedian": runbook,
            "ratio": drctl / runbook if runbook else None, "target": 0.10,
            "met": bool(runbook) and drctl / runbook <= 0.10}

    def raw_backup(self, compressor, path):
        """pg_dump | COMPRESSOR -c > path, every stage checked; returns its wall time."""
        stack = self.world.stack
        started = time.monotonic()
        with open(path, "wb") as out:
            dump = subprocess.Popen(["pg_dump", "-h", stack.host, "-p", stack.port, "-U", stack.user, "-w",
                                     self.world.database], env=stack.env(), stdout=subprocess.PIPE)
            compress = subprocess.Popen([compressor, "-c"], stdin=dump.stdout, stdout=out)
            dump.stdout.close()
            if dump.wait() != 0 or compress.wait() != 0:
                fail(f"pg_dump | {compressor} -c failed")
        return time.monotonic() - started

    def p7_backup(self):
        log("P7: drctl backup create (compressor auto = pigz, and gzip) vs pg_dump | gzip -c and | pigz -c "
            "(alternating)")
        if not shutil.which("pigz"):
            fail("pigz is missing; run scripts/bootstrap (it installs Debian's pigz)")
        self.running_system()
        shutil.rmtree(self.local_folder, ignore_errors=True)
        with_gzip = self.world.write_manifest("local-gzip.yaml", local=self.local_folder,
                                              extra_backups="  compressor: gzip\n")
        raw = os.path.join(self.world.dir, "p7-raw.sql.gz")
        runs = {"drctlPigz": [], "drctlGzip": [], "rawGzip": [], "rawPigz": []}
        for index in range(self.world.config["runs"]):
            runs["drctlGzip"].append(self.backup_create(f"p7-gzip-{index}", with_gzip))
            runs["rawGzip"].append(self.raw_backup("gzip", raw))
            runs["drctlPigz"].append(self.backup_create(f"p7-pigz-{index}"))  # last: the backup P2a and P6 restore
            runs["rawPigz"].append(self.raw_backup("pigz", raw))
            log(f"  #{index + 1}: drctl backup create (gzip) {runs['drctlGzip'][-1]:.1f} s, pg_dump | gzip "
                f"{runs['rawGzip'][-1]:.1f} s, drctl backup create (pigz) {runs['drctlPigz'][-1]:.1f} s, "
                f"pg_dump | pigz {runs['rawPigz'][-1]:.1f} s")
        os.remove(raw)
        med = {name: median(values) for name, values in runs.items()}
        ratio, pigz_ratio = med["drctlGzip"] / med["rawGzip"], med["drctlPigz"] / med["rawGzip"]
        self.results["measures"]["P7"] = {
            "what": "drctl backup create with gzip vs pg_dump | gzip -c (target 1.05); with pigz (the default when "
                    "installed) vs the same raw gzip (target 0.60)", "seconds": runs, "medians": med,
            "drctlMedian": med["drctlGzip"], "baselineMedian": med["rawGzip"], "ratio": ratio, "target": 1.05,
            "met": ratio <= 1.05}
        self.results["measures"]["P7pigz"] = {
            "what": "drctl backup create with pigz vs pg_dump | gzip -c", "drctlMedian": med["drctlPigz"],
            "baselineMedian": med["rawGzip"], "rawPigzMedian": med["rawPigz"], "ratio": pigz_ratio, "target": 0.60,
            "met": pigz_ratio <= 0.60}

    def p9_custom_format(self):
        """Issue 17 item 7: backups.format custom (pg_dump -Fc, restored with pg_restore -j restoreJobs) beside
        plain (pg_dump | compressor, restored with gzip -dc | psql), both made by drctl backup create and restored
        by drctl restore from the local folder, alternately, on the same database."""
        log("P9: backups.format custom (pg_dump -Fc, pg_restore -j) vs plain: drctl backup create and drctl restore "
            "from the local folder (alternating)")
        self.running_system()
        plain_folder = os.path.join(self.world.dir, "p9-plain")
        custom_folder = os.path.join(self.world.dir, "p9-custom")
        for folder in (plain_folder, custom_folder):
            shutil.rmtree(folder, ignore_errors=True)
        plain = self.world.write_manifest("p9-plain.yaml", local=plain_folder)
        custom = self.world.write_manifest("p9-custom.yaml", local=custom_folder, extra_backups="  format: custom\n")
        runs = {"createPlain": [], "createCustom": [], "restorePlain": [], "restoreCustom": []}
        for index in range(self.world.config["runs"]):
            runs["createPlain"].append(self.backup_create(f"p9-create-plain-{index}", plain))
            runs["createCustom"].append(self.backup_create(f"p9-create-custom-{index}", custom))
            for name, manifest in (("Plain", plain), ("Custom", custom)):
                sampler = self.drctl_restore(f"p9-restore-{name.lower()}-{index}", manifest)
                runs["restore" + name].append(sampler.wall)
                self.after_restore()
            log(f"  #{index + 1}: backup create plain {runs['createPlain'][-1]:.1f} s, custom "
                f"{runs['createCustom'][-1]:.1f} s; restore plain {runs['restorePlain'][-1]:.1f} s, custom "
                f"{runs['restoreCustom'][-1]:.1f} s")
        med = {name: median(values) for name, values in runs.items()}
        sizes = {name: os.path.getsize(newest_backup(folder, suffix))
                 for name, folder, suffix in (("plain", plain_folder, ".sql.gz"), ("custom", custom_folder, ".dump"))}
        self.results["measures"]["P9"] = {
            "what": "backups.format custom (pg_dump -Fc; pg_restore -j) vs plain (pg_dump | compressor; gzip -dc | "
                    "psql): drctl backup create and drctl restore from the local folder; no target (when to switch)",
            "seconds": runs, "medians": med, "backupBytes": sizes,
            "restoreRatio": med["restoreCustom"] / med["restorePlain"],
            "createRatio": med["createCustom"] / med["createPlain"]}
        for folder in (plain_folder, custom_folder):
            shutil.rmtree(folder, ignore_errors=True)

    def p3_resume(self):
        log("P3: SIGKILL during the archive sync, then drctl resume")
        full = self.results["measures"]["P1"]["drctlMedian"]
        total_files = self.world.config["archive_files"]
        runs = []
        for index in range(self.world.config["runs"]):
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
                helm_idle = ("step-completed", "postgresql.install") in seen and all(
                    ("step-started", step) not in seen or ("step-completed", step) in seen
                    for step in ("app.install", "app.scale-up"))
                synced = ("step-completed", "archive.sync") in seen
                if helm_idle and (syncing or synced):
                    restored = ("step-completed", "database.restore") in seen
                    landed = sum(len(f) for _, _, f in os.walk(self.world.archive_destination))
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
            resumed = subprocess.run([self.world.drctl, "resume", run_id, "-o", "json"], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            resume_seconds = time.monotonic() - started
            if resumed.returncode != 0:
                fail(f"drctl resume {run_id} exited {resumed.returncode}: {resumed.stderr[-800:]}")
            self.world.check_restored()
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
        db = self.world.verify_database
        backups = os.path.join(self.world.dir, "verify-backups")
        shutil.rmtree(backups, ignore_errors=True)
        manifest = self.world.write_manifest("verify.yaml", database=db, local=backups)
        self.world.stack.drop_like(db)
        self.world.stack.sql("postgres", f'CREATE DATABASE "{db}"')
        self.world.stack.sql(db, generator_sql(self.world.config["verify_rows"]))
        env = self.world.state_env("p4")
        run([self.world.drctl, "backup", "create", "-f", manifest], env=env)
        self.world.stack.drop_like(db)
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
        for index in range(self.world.config["runs"]):
            for record in catalog["records"]:
                record.pop("verification", None)
            json.dump(catalog, open(catalog_path, "w"), indent=2)
            for bucket in (first_runs, second_runs):
                started = time.monotonic()
                result = run([self.world.drctl, "backup", "verify", "-f", manifest, "-o", "json"], env=env, check=False,
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
        log("P5: drctl's own CPU share of a rebuild; its stream throughput and peak RSS; drctl plan rebuild latency")
        runs = self.p1_runs
        shares = [r["ownCPU"] / r["seconds"] for r in runs]
        cpu_shares = [r["ownCPU"] / r["totalCPU"] for r in runs if r["totalCPU"] > 0]
        latencies = []
        for _ in range(self.world.config["plan_runs"]):
            started = time.monotonic()
            run([self.world.drctl, "plan", "rebuild", "-f", self.world.manifest], env=self.world.state_env("plan"), capture=True)
            latencies.append(time.monotonic() - started)
        if runs:  # the size curve runs no rebuild to divide by
            self.results["measures"]["P5cpu"] = {
                "what": "drctl's own CPU time / rebuild wall time", "ownCPUSeconds": [r["ownCPU"] for r in runs],
                "childrenCPUSeconds": [r["totalCPU"] - r["ownCPU"] for r in runs],
                "wallSeconds": [r["seconds"] for r in runs], "shareOfWall": median(shares),
                "shareOfAllCPU": median(cpu_shares) if cpu_shares else None, "target": 0.01,
                "met": median(shares) <= 0.01}
        stream = self.results["measures"].get("P2b")
        if stream and stream.get("drctlProcess"):
            # The off-site restore streams every compressed byte through drctl (relay and SHA-256 in process):
            # bytes over drctl's own CPU seconds is what one core of drctl sustains, the SHA-256 included.
            size = self.results["data"]["gzipBytes"]
            cpu = median(s["ownCPU"] for s in stream["drctlProcess"])
            peak = max(s["peakRSS"] for s in stream["drctlProcess"])
            rate = size / cpu / 1e6 if cpu else None
            self.results["measures"]["P5stream"] = {
                "what": "drctl restore from off-site: streamed bytes / drctl's own CPU seconds (relay + SHA-256 on one "
                        "core), and drctl's peak RSS (VmHWM)", "streamedBytes": size, "ownCPUSeconds": cpu,
                "megabytesPerCPUSecond": rate, "peakRSSBytes": peak, "target": "SHA-256 >= 1000 MB/s, RSS <= 64 MB",
                "met": bool(rate) and rate >= 1000 and peak <= 64 * 2**20}
        self.results["measures"]["P5plan"] = {
            "what": "drctl plan rebuild latency", "seconds": latencies, "median": median(latencies),
            "target": 0.1, "met": median(latencies) <= 0.1}
        self.p5_tap_rate()

    def p5_tap_rate(self):
        """The in-stream SHA-256 alone, on one core: `drctl tap-rate` hashes N bytes in the tap's buffer size with
        the tap's SHA-256 (thread CPU time), then streams N bytes through the tap in a real pipeline
        (`head -c N /dev/zero | tap | cat`, drctl's own CPU time). CPU time, not wall: load stretches the run, not
        the rate (much: SMT siblings and caches are shared)."""
        size = self.world.config["tap_bytes"]
        reports = []
        for _ in range(self.world.config["tap_runs"]):
            load = os.getloadavg()[0]
            result = run([self.world.drctl, "tap-rate", "--bytes", size], capture=True)
            report = json.loads(result.stdout.strip().splitlines()[-1])
            report["loadAverage"] = round(load, 1)
            reports.append(report)
            log(f"  tap {size}: SHA-256 {report['hashMegabytesPerCPUSecond']:.0f} MB/s per CPU second, relay "
                f"{report['relayMegabytesPerCPUSecond']:.0f} MB/s per drctl CPU second (load {load:.1f})")
        hashed = median(r["hashMegabytesPerCPUSecond"] for r in reports)
        self.results["measures"]["P5tap"] = {
            "what": "drctl tap-rate: the tap's SHA-256 alone (swift-crypto, the relay's 1 MiB buffer, thread CPU "
                    "time) and the whole relay in a pipeline (poll, read, hash, write; drctl's CPU time)",
            "bytes": reports[0]["bytes"], "runs": reports, "hashMegabytesPerCPUSecond": hashed,
            "relayMegabytesPerCPUSecond": median(r["relayMegabytesPerCPUSecond"] for r in reports),
            "target": "SHA-256 >= 1000 MB/s on one core", "met": hashed >= 1000}


def step_times(lines):
    """Each step of a `-o json` run that started: when it started and ended, in seconds after the run started,
    in the order the steps started (what ran beside what shows as overlapping spans)."""
    def parsed(line):
        try:
            event = json.loads(line)
        except ValueError:
            return None
        if not isinstance(event, dict) or "time" not in event:
            return None
        when = event["time"]
        if isinstance(when, str):
            when = datetime.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
        return event, float(when)

    started_at, starts, ends = None, {}, {}
    for line in lines:
        found = parsed(line)
        if found is None:
            continue
        event, when = found
        if event.get("event") == "run-started" and started_at is None:
            started_at = when
        elif event.get("event") == "step-started" and event.get("step") not in starts:
            starts[event["step"]] = when
        elif event.get("event") in ("step-completed", "step-skipped", "step-failed") and event.get("step"):
            ends[event["step"]] = when
    if started_at is None:
        return []
    spans = []
    for step, start in sorted(starts.items(), key=lambda item: item[1]):
        end = ends.get(step, start)
        spans.append({"step": step, "start": round(start - started_at, 3), "end": round(end - started_at, 3),
                      "seconds": round(end - start, 3)})
    return spans


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


def newest_backup(folder, suffix):
    """The newest backup file with this suffix in a drctl backup folder's daily/ tier."""
    daily = os.path.join(folder, "daily")
    names = sorted(name for name in os.listdir(daily) if name.endswith(suffix))
    if not names:
        fail(f"no {suffix} backup in {daily}")
    return os.path.join(daily, names[-1])
