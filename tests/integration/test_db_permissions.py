# SPDX-License-Identifier: GPL-3.0-or-later
"""Nobody but the database directory's owner (and root) can redirect what
the tools, the prober and knotd open (issue 11, point 5; docs/security.md).

Symlinked data.mdb / lock.mdb / path components where another user could
have placed them, hard links, foreign owners, files writable by everyone,
directories others can write without the sticky bit: refused with a clear
error before anything is opened, and the file a link points at is left
untouched. The documented layout (directory writer:knot 2750, data.mdb 0640,
lock.mdb 0660) works end to end: root's haltgslb-ctl works as the writer,
knotd runs as user knot and answers from a database it can only read.

Runs as root (chown, setpriv); users are numeric ids, none is created."""
import grp
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BUILDDIR, CTL, POLICY, ZONE, Knotd, addresses, ctl, measure_all

DUMP = os.path.join(BUILDDIR, "haltgslb-dump")
PROBER = os.path.join(BUILDDIR, "haltgslb-prober")
SYNCD = os.path.join(BUILDDIR, "haltgslb-syncd")
WRITER = 64123                      # the writer's uid (ctl + prober); no passwd entry needed
NOBODY = 65534
KNOT_UID = pwd.getpwnam("knot").pw_uid
KNOT_GID = grp.getgrnam("knot").gr_gid
GSLB = ["198.51.100.10"]            # dr. from the database


@pytest.fixture
def base():
    """A directory every user can reach (pytest's tmp_path is root's 0700)."""
    d = tempfile.mkdtemp(prefix="hg-perm-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(argv, uid=None, gid=None, timeout=20):
    """Run argv, as uid:gid (no supplementary groups) if given."""
    if uid is not None:
        argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % (gid if gid is not None else uid),
                "--clear-groups", "--"] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def fingerprint(path):
    st = os.lstat(path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), st.st_size, st.st_mtime_ns


def make_db(path, owner=0, group=0, mode=0o750):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ctl("load", "--db", path, POLICY)
    os.chown(path, owner, group)
    os.chmod(path, mode)
    for f in ("data.mdb", "lock.mdb"):
        os.chown(os.path.join(path, f), owner, group)
    return path


def secret(base):
    """A root-only file an attacker would like root to overwrite."""
    p = os.path.join(base, "secret")
    with open(p, "w") as f:
        f.write("root:only\n")
    os.chmod(p, 0o600)
    return p


_tls = {}


def syncd_tls():
    """A self-signed pair for haltgslb-syncd, which checks its TLS files
    before it opens the database (its broker, a closed port on loopback, is
    never reached). Readable by every user, made once."""
    if not _tls:
        d = tempfile.mkdtemp(prefix="hg-perm-tls-", dir="/tmp")
        os.chmod(d, 0o755)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=dns-1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        os.chmod(key, 0o644)
        _tls.update(dir=d, args=["--broker", "amqps://127.0.0.1:1", "--tls-cert", cert,
                                 "--tls-key", key, "--tls-ca", cert])
    return _tls["args"]


@pytest.fixture(scope="module", autouse=True)
def _syncd_tls_cleanup():
    yield
    if _tls:
        shutil.rmtree(_tls["dir"], ignore_errors=True)


def tools(db):
    """Every opener of a database: the tools, the prober and haltgslb-syncd
    (foreground: they must fail at their open, not detach)."""
    return [
        ("ctl status", [CTL, "status", "--db", db]),
        ("ctl load", [CTL, "load", POLICY, "--db", db]),
        ("ctl drain", [CTL, "drain", "waf-fra-aws", "--db", db]),
        ("dump", [DUMP, "--db", db]),
        ("prober", [PROBER, "--id", "eu-fra", "--db", db, "--foreground"]),
        ("syncd", [SYNCD, "--db", db, "--foreground"] + syncd_tls()),
    ]


def assert_refused(db, *words, uid=None):
    for name, argv in tools(db):
        res = run(argv, uid=uid)
        err = res.stdout + res.stderr
        assert res.returncode == 1, (name, res.returncode, err)
        for w in words:
            assert w in err, (name, w, err)


def assert_opens(db, uid=None, gid=None):
    res = run([CTL, "status", "--db", db], uid=uid, gid=gid)
    assert res.returncode == 0, res.stdout + res.stderr


# ---- symlinks ----

@pytest.mark.parametrize("name", ["data.mdb", "lock.mdb"])
def test_symlinked_file_refused(base, name):
    db = make_db(os.path.join(base, "db"))
    target = secret(base)
    before = fingerprint(target)
    os.unlink(os.path.join(db, name))
    os.symlink(target, os.path.join(db, name))
    assert_refused(db, "%s/%s is a symbolic link" % (db, name))
    assert fingerprint(target) == before, "the link's target was touched"


def test_symlinked_file_refused_on_create(base):
    """Before the first load: a planted data.mdb link is not followed."""
    db = os.path.join(base, "new")
    os.mkdir(db, 0o750)
    target = secret(base)
    before = fingerprint(target)
    os.symlink(target, os.path.join(db, "data.mdb"))
    res = run([CTL, "load", POLICY, "--db", db])
    assert res.returncode == 1 and "is a symbolic link" in res.stderr, res.stderr
    assert fingerprint(target) == before


def test_symlinked_directory_component_refused(base):
    real = make_db(os.path.join(base, "real"))
    # A link in a directory everyone may write (no sticky bit) ...
    ww = os.path.join(base, "ww")
    os.mkdir(ww)
    os.chmod(ww, 0o777)
    os.symlink(real, os.path.join(ww, "db"))
    assert_refused(os.path.join(ww, "db"), "is a symbolic link in %s" % ww)
    # ... a link in a sticky directory, owned by another user ...
    st = os.path.join(base, "sticky")
    os.mkdir(st)
    os.chmod(st, 0o1777)
    os.symlink(real, os.path.join(st, "db"))
    os.lchown(os.path.join(st, "db"), NOBODY, NOBODY)
    assert_refused(os.path.join(st, "db"), "is a symbolic link in %s" % st)
    # ... a link higher up the path, in that same directory.
    os.symlink(base, os.path.join(ww, "up"))
    assert_refused(os.path.join(ww, "up", "real"), "is a symbolic link in %s" % ww)
    # A link only root can change is followed (e.g. /var/lib -> /srv/var/lib).
    os.symlink(real, os.path.join(base, "alias"))
    assert_opens(os.path.join(base, "alias"))


def test_ancestor_of_another_user_refused(base):
    theirs = os.path.join(base, "theirs")
    make_db(os.path.join(theirs, "db"))
    os.chown(theirs, NOBODY, NOBODY)
    assert_refused(os.path.join(theirs, "db"), "%s is owned by uid %d" % (theirs, NOBODY))


# ---- links, owners, modes ----

def test_hard_link_refused(base):
    db = make_db(os.path.join(base, "db"))
    target = secret(base)
    before = fingerprint(target)
    os.unlink(os.path.join(db, "lock.mdb"))
    os.link(target, os.path.join(db, "lock.mdb"))
    assert_refused(db, "lock.mdb has 2 hard links")
    assert fingerprint(target) == before


@pytest.mark.parametrize("name", ["data.mdb", "lock.mdb"])
def test_foreign_owner_refused(base, name):
    db = make_db(os.path.join(base, "db"))
    os.chown(os.path.join(db, name), NOBODY, NOBODY)
    assert_refused(db, "%s is owned by uid %d, not by root" % (name, NOBODY))


def test_world_writable_file_refused(base):
    db = make_db(os.path.join(base, "db"))
    os.chmod(os.path.join(db, "data.mdb"), 0o666)
    assert_refused(db, "data.mdb is writable by everyone")


@pytest.mark.parametrize("mode,refused", [(0o2770, True), (0o0777, True), (0o3770, False),
                                          (0o2750, False), (0o1777, False)],
                         ids=["2770", "0777", "3770", "2750", "1777"])
def test_directory_mode(base, mode, refused):
    db = make_db(os.path.join(base, "db"), group=KNOT_GID, mode=mode)
    os.chmod(db, mode)              # chown may have cleared setgid
    if refused:
        assert_refused(db, "without the sticky bit", "2750 (or 3770)")
    else:
        assert_opens(db)


def test_root_refuses_a_directory_of_another_user(base):
    """The prober started as root on the writer's directory: refused (the
    writer could swap files between the checks and LMDB's open)."""
    db = make_db(os.path.join(base, "db"), owner=WRITER, group=KNOT_GID, mode=0o2750)
    res = run([PROBER, "--id", "eu-fra", "--db", db, "--foreground"])
    assert res.returncode == 1 and "root does not open a database directory another user " \
        "controls" in res.stderr and "run as uid %d" % WRITER in res.stderr, res.stderr
    res = run([SYNCD, "--db", db, "--foreground"] + syncd_tls())
    assert res.returncode == 1 and "root does not open a database directory another user " \
        "controls" in res.stderr and "run as uid %d" % WRITER in res.stderr, res.stderr


# ---- the documented layout, end to end ----

def writer_dir(base):
    """install -d -o WRITER -g knot -m 2750 DIR (docs/install.md)."""
    db = os.path.join(base, "db")
    os.mkdir(db)
    os.chown(db, WRITER, KNOT_GID)
    os.chmod(db, 0o2750)
    return db


def test_root_ctl_works_as_the_directory_owner(base):
    db = writer_dir(base)
    ctl("load", "--db", db, POLICY)         # as root
    for name, mode in (("data.mdb", 0o640), ("lock.mdb", 0o660)):
        st = os.stat(os.path.join(db, name))
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (WRITER, KNOT_GID, mode), \
            (name, st.st_uid, st.st_gid, oct(st.st_mode))
    # The writer itself, and root again (drain, status).
    assert run([CTL, "drain", "waf-fra-aws", "--db", db], uid=WRITER, gid=KNOT_GID).returncode == 0
    assert "drained" in ctl("status", "--db", db).stdout


def test_knot_reads_only(base):
    """knotd's user: reads data.mdb, writes only its reader slot in lock.mdb,
    creates nothing (a missing lock.mdb is the owner's to create)."""
    db = writer_dir(base)
    ctl("load", "--db", db, POLICY)
    probe = ("import sys, os\n"
             "try:\n    open(sys.argv[1], sys.argv[2]).close(); print('yes')\n"
             "except OSError:\n    print('no')\n")
    def can(path, how):
        return run(["/usr/bin/python3", "-c", probe, path, how], uid=KNOT_UID,
                   gid=KNOT_GID).stdout.strip() == "yes"
    assert can(os.path.join(db, "data.mdb"), "rb")
    assert not can(os.path.join(db, "data.mdb"), "r+b")
    assert can(os.path.join(db, "lock.mdb"), "r+b")
    assert not can(os.path.join(db, "new-file"), "wb")
    assert_opens(db, uid=KNOT_UID, gid=KNOT_GID)    # a reader as knot
    os.unlink(os.path.join(db, "lock.mdb"))
    res = run([CTL, "status", "--db", db], uid=KNOT_UID, gid=KNOT_GID)
    assert res.returncode == 1 and "only its owner (uid %d) may create it" % WRITER in res.stderr
    assert_opens(db, uid=WRITER)             # the owner recreates it
    assert_opens(db, uid=KNOT_UID, gid=KNOT_GID)


class KnotKnotd(Knotd):
    """knotd started as root that runs as knot (server: user), as Debian's
    unit runs it; everything it writes is knot's."""

    def write_conf(self, geoip=None):
        super().write_conf(geoip)
        with open(self.conf) as f:
            text = f.read()
        with open(self.conf, "w") as f:
            f.write(text.replace("server:\n", "server:\n    user: knot:knot\n", 1))


def test_knotd_as_knot_reads_the_writers_database(base):
    db = writer_dir(base)
    ctl("load", "--db", db, POLICY)
    measure_all(db)                          # root, working as the writer
    kdir = os.path.join(base, "knotd")
    os.mkdir(kdir)
    k = KnotKnotd(kdir, db=db)
    for root, dirs, files in os.walk(kdir):
        for n in dirs + files:
            os.chown(os.path.join(root, n), KNOT_UID, KNOT_GID)
    os.chown(kdir, KNOT_UID, KNOT_GID)
    try:
        k.start()
        deadline = time.monotonic() + 3
        while addresses(k.query("dr." + ZONE, "A")) != GSLB and time.monotonic() < deadline:
            time.sleep(0.1)
        assert addresses(k.query("dr." + ZONE, "A")) == GSLB, k.logtext()
        assert "is valid, answering from it" in k.logtext()
        pid = k.proc.pid
        with open("/proc/%d/status" % pid) as f:
            uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
        assert all(int(u) == KNOT_UID for u in uids), uids
        # A drain by the writer reaches knotd's answers at once.
        assert run([CTL, "drain", "waf-fra-aws", "--db", db], uid=WRITER,
                   gid=KNOT_GID).returncode == 0
        deadline = time.monotonic() + 3
        while addresses(k.query("dr." + ZONE, "A")) == GSLB and time.monotonic() < deadline:
            time.sleep(0.1)
        assert addresses(k.query("dr." + ZONE, "A")) != GSLB
    finally:
        k.stop()
        reports = k.sanitizer_reports()
        print("---- knotd log ----\n" + k.logtext())
    assert not reports, reports


def test_knotd_refuses_a_symlinked_lock_file(knotd_factory, measured_db, tmp_path):
    target = str(tmp_path / "victim")
    with open(target, "w") as f:
        f.write("keep me\n")
    before = fingerprint(target)
    os.unlink(os.path.join(measured_db, "lock.mdb"))
    os.symlink(target, os.path.join(measured_db, "lock.mdb"))
    k = knotd_factory(db=measured_db).start()
    r = k.query("dr." + ZONE, "A")
    assert addresses(r) == sorted(["198.51.100.10", "198.51.100.20", "192.0.2.10"])
    assert "is unsafe" in k.logtext() and "lock.mdb is a symbolic link" in k.logtext()
    assert fingerprint(target) == before
