/* OCI specs from CRI requests, the security half: users and groups,
 * capabilities, privileged, masked paths, seccomp and AppArmor; and one
 * container spec run by the real runc in a busybox bundle.  */
#include <unistd.h>

#include "oci_fixture.h"

static int test_user_from_image_and_security_context(void)
{
    WITH_FIXTURE(f);
    json_auto_t *by_name = spec_of(&f); /* the image's User "app" */
    CHECK(is(at(by_name, "process/user"),
             "{\"uid\": 1000, \"gid\": 1001, \"additionalGids\": [1001, 10, 63]}"));
    f.uid.value = 1000;
    f.sc.run_as_user = &f.uid;
    json_auto_t *by_uid = spec_of(&f);
    CHECK(is(at(by_uid, "process/user"),
             "{\"uid\": 1000, \"gid\": 1001, \"additionalGids\": [1001, 10, 63]}"));
    f.gid.value = 50;
    f.sc.run_as_group = &f.gid;
    int64_t supplemental[] = {5000, 10};
    f.sc.supplemental_groups = supplemental;
    f.sc.n_supplemental_groups = 2;
    json_auto_t *uid_gid = spec_of(&f);
    CHECK(is(at(uid_gid, "process/user"),
             "{\"uid\": 1000, \"gid\": 50, \"additionalGids\": [50, 10, 63, 5000]}"));
    f.uid.value = 4242;
    f.sc.run_as_group = NULL;
    f.sc.n_supplemental_groups = 0;
    json_auto_t *unknown_uid = spec_of(&f);
    CHECK(is(at(unknown_uid, "process/user"),
             "{\"uid\": 4242, \"gid\": 0, \"additionalGids\": [0]}"));
    json_object_del(f.image_config, "User");
    f.sc.run_as_user = NULL;
    json_auto_t *root = spec_of(&f);
    CHECK(is(at(root, "process/user"), "{\"uid\": 0, \"gid\": 0, \"additionalGids\": [0, 10]}"));
    f.sc.run_as_username = "nosuch";
    CHECK(refused(&f, "nosuch"));
    f.sc.run_as_username = "";
    f.sc.run_as_group = &f.gid;
    CHECK(refused(&f, "runAsGroup"));
    return 0;
}

static int test_resolve_user_forms(void)
{
    uid_t uid;
    gid_t gid;
    gid_t *more = NULL;
    size_t n = 0;
    crimp_error_t err = NULL;
    CHECK(oci_resolve_user("app:audio", PASSWD, GROUP, &uid, &gid, &more, &n, &err) == 0);
    CHECK(uid == 1000 && gid == 63 && n == 2 && more[0] == 10 && more[1] == 63);
    free(more);
    CHECK(oci_resolve_user("daemon", PASSWD, GROUP, &uid, &gid, &more, &n, &err) == 0);
    CHECK(uid == 1 && gid == 1 && n == 0 && more == NULL);
    CHECK(oci_resolve_user("1000:7", NULL, NULL, &uid, &gid, &more, &n, &err) == 0);
    CHECK(uid == 1000 && gid == 7 && n == 0);
    CHECK(oci_resolve_user("1000", NULL, NULL, &uid, &gid, &more, &n, &err) == 0);
    CHECK(uid == 1000 && gid == 0);
    const char *bad[] = {"app", "99999999999", "app:nogroup", ":5", "1000:"};
    const char *pw[] = {NULL, PASSWD, PASSWD, PASSWD, PASSWD};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(bad); i++) {
        CHECK(oci_resolve_user(bad[i], pw[i], GROUP, &uid, &gid, &more, &n, &err) < 0);
        CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
        crimp_error_release(&err);
    }
    Runtime__V1__Int64Value u = RUNTIME__V1__INT64_VALUE__INIT, g = RUNTIME__V1__INT64_VALUE__INIT;
    u.value = 5;
    g.value = 6;
    cleanup_free char *a = oci_cri_user_string(&u, NULL, &g, &err);
    cleanup_free char *b = oci_cri_user_string(&u, "bob", NULL, &err);
    CHECK(a && strcmp(a, "5:6") == 0 && b && strcmp(b, "bob") == 0);
    CHECK(oci_cri_user_string(NULL, "", NULL, &err) == NULL && err == NULL);
    CHECK(oci_cri_user_string(NULL, NULL, &g, &err) == NULL && err != NULL);
    crimp_error_release(&err);
    return 0;
}

/* ---- security ---------------------------------------------------------- */

/* Lines with fewer fields than /etc/passwd's seven and /etc/group's four
 * (hand-written images have them): a passwd line without a gid field gives
 * gid 0, a group line without a member list is a group with no members, a
 * line of two fields is skipped.  */
static int test_resolve_user_short_lines(void)
{
    static const char passwd[] = "short:x:2000\n"
                                 "two:x\n"
                                 "app:x:1000:1001\n";
    static const char group[] = "nomem:x:50\n"
                                "half:x\n"
                                "extra:x:51:app\n";
    uid_t uid;
    gid_t gid;
    gid_t *more = NULL;
    size_t n = 0;
    crimp_error_t err = NULL;
    CHECK(oci_resolve_user("short", passwd, group, &uid, &gid, &more, &n, &err) == 0);
    CHECK(uid == 2000 && gid == 0 && n == 0 && more == NULL);
    CHECK(oci_resolve_user("short:nomem", passwd, group, &uid, &gid, &more, &n, &err) == 0);
    CHECK(uid == 2000 && gid == 50 && n == 0);
    CHECK(oci_resolve_user("app", passwd, group, &uid, &gid, &more, &n, &err) == 0);
    CHECK(uid == 1000 && gid == 1001 && n == 1 && more[0] == 51);
    free(more);
    more = NULL;
    CHECK(oci_resolve_user("two", passwd, group, &uid, &gid, &more, &n, &err) < 0);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
    crimp_error_release(&err);
    CHECK(oci_resolve_user("short:half", passwd, group, &uid, &gid, &more, &n, &err) < 0);
    crimp_error_release(&err);
    return 0;
}

static int test_capabilities_add_drop_and_all(void)
{
    WITH_FIXTURE(f);
    char *add[] = {"NET_ADMIN", "sys_time"}, *drop[] = {"KILL"};
    f.caps.add_capabilities = add;
    f.caps.n_add_capabilities = 2;
    f.caps.drop_capabilities = drop;
    f.caps.n_drop_capabilities = 1;
    f.sc.capabilities = &f.caps;
    json_auto_t *s = spec_of(&f);
    json_t *eff = at(s, "process/capabilities/effective");
    CHECK(has_string(eff, "CAP_NET_ADMIN") && has_string(eff, "CAP_SYS_TIME"));
    CHECK(has_string(eff, "CAP_CHOWN") && !has_string(eff, "CAP_KILL"));
    CHECK(json_array_size(eff) == 15);
    CHECK(json_equal(eff, at(s, "process/capabilities/bounding")));
    CHECK(json_equal(eff, at(s, "process/capabilities/permitted")));
    CHECK(at(s, "process/capabilities/inheritable") == NULL);

    char *all[] = {"ALL"}, *chown[] = {"CHOWN"};
    f.caps.add_capabilities = all;
    f.caps.n_add_capabilities = 1;
    f.caps.drop_capabilities = chown;
    json_auto_t *most = spec_of(&f);
    json_auto_t *want = oci_caps_of_mask(facts.caps & ~1ULL);
    CHECK(json_equal(at(most, "process/capabilities/effective"), want));
    CHECK(!has_string(want, "CAP_SYS_RESOURCE") && has_string(want, "CAP_CHECKPOINT_RESTORE"));

    char *bind[] = {"NET_BIND_SERVICE"};
    f.caps.add_capabilities = bind;
    f.caps.drop_capabilities = all;
    json_auto_t *one = spec_of(&f);
    CHECK(is(at(one, "process/capabilities"),
             "{\"bounding\": [\"CAP_NET_BIND_SERVICE\"], \"effective\": [\"CAP_NET_BIND_SERVICE\"],"
             " \"permitted\": [\"CAP_NET_BIND_SERVICE\"]}"));
    return 0;
}

static int test_privileged(void)
{
    WITH_FIXTURE(f);
    f.sc.privileged = true;
    CHECK(refused(&f, "privileged"));
    f.pod_sc.privileged = true;
    f.seccomp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    f.sc.seccomp = &f.seccomp;
    char *masked[] = {"/proc/kcore"};
    f.sc.masked_paths = masked;
    f.sc.n_masked_paths = 1;
    json_auto_t *s = spec_of(&f);
    json_auto_t *all = oci_caps_of_mask(facts.caps);
    CHECK(json_equal(at(s, "process/capabilities/bounding"), all));
    CHECK(json_equal(at(s, "process/capabilities/effective"), all));
    CHECK(at(s, "linux/maskedPaths") == NULL && at(s, "linux/readonlyPaths") == NULL);
    CHECK(at(s, "linux/seccomp") == NULL);
    CHECK(is(at(mount_of(s, "/sys"), "options"), "[\"nosuid\", \"noexec\", \"nodev\", \"rw\"]"));
    CHECK(has_string(at(mount_of(s, "/sys/fs/cgroup"), "options"), "rw"));
    CHECK(is(at(s, "linux/resources/devices"), "[{\"allow\": true, \"access\": \"rwm\"}]"));
    return 0;
}

static int test_masked_and_readonly_paths_from_kubelet(void)
{
    WITH_FIXTURE(f);
    json_auto_t *none = spec_of(&f);
    CHECK(at(none, "linux/maskedPaths") == NULL && at(none, "linux/readonlyPaths") == NULL);
    char *masked[] = {"/proc/kcore", "/proc/keys"}, *ro[] = {"/proc/sys"};
    f.sc.masked_paths = masked;
    f.sc.n_masked_paths = 2;
    f.sc.readonly_paths = ro;
    f.sc.n_readonly_paths = 1;
    json_auto_t *s = spec_of(&f);
    CHECK(is(at(s, "linux/maskedPaths"), "[\"/proc/kcore\", \"/proc/keys\"]"));
    CHECK(is(at(s, "linux/readonlyPaths"), "[\"/proc/sys\"]"));
    return 0;
}

/* ---- seccomp and AppArmor ---------------------------------------------- */

static int test_seccomp_runtime_default_and_caps(void)
{
    WITH_FIXTURE(f);
    json_auto_t *none = spec_of(&f); /* kubelet's "" means unconfined */
    CHECK(at(none, "linux/seccomp") == NULL);
    f.seccomp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    f.sc.seccomp = &f.seccomp;
    json_auto_t *s = spec_of(&f);
    CHECK(is(at(s, "linux/seccomp/defaultAction"), "\"SCMP_ACT_ALLOW\""));
    CHECK(is(at(s, "linux/seccomp/architectures"),
             "[\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]"));
    CHECK(is(at(s, "linux/seccomp/syscalls/0/action"), "\"SCMP_ACT_ERRNO\""));
    CHECK(is(at(s, "linux/seccomp/syscalls/0/errnoRet"), "1"));
    CHECK(blocks(s, "ptrace") && blocks(s, "mount") && blocks(s, "kexec_load"));
    CHECK(!blocks(s, "read") && !blocks(s, "clone"));

    char *add[] = {"SYS_PTRACE", "SYS_ADMIN"};
    f.caps.add_capabilities = add;
    f.caps.n_add_capabilities = 2;
    f.sc.capabilities = &f.caps;
    json_auto_t *lifted = spec_of(&f);
    CHECK(!blocks(lifted, "ptrace") && !blocks(lifted, "process_vm_readv"));
    CHECK(!blocks(lifted, "mount") && !blocks(lifted, "umount2") && !blocks(lifted, "unshare"));
    CHECK(!blocks(lifted, "setns") && blocks(lifted, "reboot") && blocks(lifted, "settimeofday"));

    f.sc.seccomp = NULL;
    f.sc.capabilities = NULL;
    f.sc.seccomp_profile_path = "docker/default";
    json_auto_t *deprecated = spec_of(&f);
    CHECK(json_equal(at(deprecated, "linux/seccomp"), at(s, "linux/seccomp")));
    f.sc.seccomp_profile_path = "unconfined";
    json_auto_t *unconfined = spec_of(&f);
    CHECK(at(unconfined, "linux/seccomp") == NULL);
    f.sc.seccomp_profile_path = "bogus";
    CHECK(refused(&f, "bogus"));
    f.sc.seccomp = &f.seccomp;
    f.seccomp.localhost_ref = "/x.json";
    CHECK(refused(&f, "localhost_ref"));
    return 0;
}

static int test_default_seccomp_lifts(void)
{
    json_auto_t *all = oci_default_seccomp(NULL);
    CHECK(json_array_size(at(all, "syscalls/0/names")) == 49);
    const char *caps[] = {"CAP_SYS_TIME", "CAP_SYS_BOOT", "CAP_SYS_MODULE", "CAP_SYS_PACCT", NULL};
    json_auto_t *some = oci_default_seccomp(caps);
    json_t *names = at(some, "syscalls/0/names");
    CHECK(!has_string(names, "settimeofday") && !has_string(names, "clock_settime"));
    CHECK(!has_string(names, "reboot") && !has_string(names, "init_module"));
    CHECK(!has_string(names, "acct") && has_string(names, "create_module"));
    CHECK(has_string(names, "ptrace") && has_string(names, "mount"));
    return 0;
}

static char *write_temp(const char *text)
{
    char *path = xstrdup("/tmp/crimp-seccomp-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

static int test_seccomp_localhost_profiles(void)
{
    WITH_FIXTURE(f);
    cleanup_free char *path = write_temp(
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"archMap\": [{\"architecture\": \"x\"}],"
        " \"architectures\": [\"SCMP_ARCH_X86_64\"],"
        " \"syscalls\": [{\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\","
        "                 \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},"
        "  {\"name\": \"exit\", \"action\": \"SCMP_ACT_ALLOW\"},"
        "  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 22,"
        "   \"args\": [{\"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\"}]}]}");
    CHECK(path != NULL);
    f.seccomp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
    f.seccomp.localhost_ref = path;
    f.sc.seccomp = &f.seccomp;
    json_auto_t *s = spec_of(&f);
    CHECK(is(at(s, "linux/seccomp"),
             "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_64\"],"
             " \"syscalls\": [{\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\"},"
             "  {\"names\": [\"exit\"], \"action\": \"SCMP_ACT_ALLOW\"},"
             "  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 22,"
             "   \"args\": [{\"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\"}]}]}"));
    /* Relative to the root, and through the deprecated field.  */
    f.p.seccomp_root = "/tmp";
    f.seccomp.localhost_ref = path + strlen("/tmp/");
    json_auto_t *rel = spec_of(&f);
    CHECK(json_equal(at(rel, "linux/seccomp"), at(s, "linux/seccomp")));
    f.sc.seccomp = NULL;
    cleanup_free char *old = xasprintf("localhost/%s", path);
    f.sc.seccomp_profile_path = old;
    json_auto_t *dep = spec_of(&f);
    CHECK(json_equal(at(dep, "linux/seccomp"), at(s, "linux/seccomp")));
    unlink(path);
    CHECK(refused(&f, path));
    cleanup_free char *bad = write_temp("{\"syscalls\": []}");
    cleanup_free char *bad_ref = xasprintf("localhost/%s", bad);
    f.sc.seccomp_profile_path = bad_ref;
    CHECK(refused(&f, bad));
    unlink(bad);
    f.p.seccomp_root = NULL;
    f.sc.seccomp_profile_path = "localhost/relative.json";
    CHECK(refused(&f, "relative.json"));
    return 0;
}

static int test_apparmor(void)
{
    WITH_FIXTURE(f);
    Runtime__V1__SecurityProfile aa = RUNTIME__V1__SECURITY_PROFILE__INIT;
    aa.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    f.sc.apparmor = &aa;
    json_auto_t *def = spec_of(&f);
    CHECK(at(def, "process/apparmorProfile") == NULL);
    aa.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
    aa.localhost_ref = "crimp-test";
    CHECK(refused(&f, "AppArmor is not enabled"));
    struct oci_host_facts with = facts;
    with.apparmor = true;
    oci_host_facts_override(&with);
    json_auto_t *s = spec_of(&f);
    f.sc.apparmor = NULL;
    f.sc.apparmor_profile = "localhost/other";
    json_auto_t *dep = spec_of(&f);
    oci_host_facts_override(&facts);
    CHECK(is(at(s, "process/apparmorProfile"), "\"crimp-test\""));
    CHECK(is(at(dep, "process/apparmorProfile"), "\"other\""));
    return 0;
}

/* ---- the real runc ----------------------------------------------------- */

static const char *find_runc(void)
{
    static const char *const where[] = {"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc",
                                        "/usr/local/bin/runc"};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(where); i++)
        if (access(where[i], X_OK) == 0)
            return where[i];
    return NULL;
}

static int own_oom_score_adj(void)
{
    char buf[16] = "";
    cleanup_file FILE *fp = fopen("/proc/self/oom_score_adj", "re");
    return fp && fgets(buf, sizeof(buf), fp) ? atoi(buf) : 0;
}

/* A bundle in DIR: busybox as /bin/busybox and /bin/sh, the pod's files,
 * and SPEC as config.json.  */
static int write_bundle(const char *dir, json_t *spec)
{
    cleanup_free char *cmd =
        xasprintf("mkdir -p %s/rootfs/bin && cp /bin/busybox %s/rootfs/bin/ &&"
                  " ln %s/rootfs/bin/busybox %s/rootfs/bin/sh &&"
                  " echo web-host > %s/hostname && touch %s/hosts %s/resolv.conf",
                  dir, dir, dir, dir, dir, dir, dir);
    if (system(cmd) != 0)
        return -1;
    cleanup_free char *config = xasprintf("%s/config.json", dir);
    return json_dump_file(spec, config, JSON_INDENT(2));
}

/* A spec with a busybox user, RuntimeDefault seccomp, a read-only rootfs,
 * kubelet's masked paths, dropped and added capabilities, limits and the
 * pod files, with nothing to join.  */
static json_t *runc_spec(struct fixture *f, const char *dir, const char *id)
{
    static char *cmd[] = {"sh", "-c", "echo ok"}, *drop[] = {"KILL"}, *add[] = {"NET_ADMIN"};
    static char *masked[] = {"/proc/kcore", "/proc/keys"}, *ro[] = {"/proc/sys"};
    cleanup_free char *hn = xasprintf("%s/hostname", dir);
    cleanup_free char *hosts = xasprintf("%s/hosts", dir);
    cleanup_free char *resolv = xasprintf("%s/resolv.conf", dir);
    cleanup_free char *cg = xasprintf("/crimp-oci-test-%s", id);
    json_object_del(f->image_config, "Env"); /* its PATH has no busybox */
    f->cfg.command = cmd;
    f->cfg.n_command = 3;
    f->uid.value = 1000;
    f->sc.run_as_user = &f->uid;
    f->sc.readonly_rootfs = f->sc.no_new_privs = true;
    f->sc.masked_paths = masked;
    f->sc.n_masked_paths = 2;
    f->sc.readonly_paths = ro;
    f->sc.n_readonly_paths = 1;
    f->caps.drop_capabilities = drop;
    f->caps.n_drop_capabilities = 1;
    f->caps.add_capabilities = add;
    f->caps.n_add_capabilities = 1;
    f->sc.capabilities = &f->caps;
    f->seccomp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    f->sc.seccomp = &f->seccomp;
    f->res.memory_limit_in_bytes = 64 << 20;
    f->res.cpu_shares = 512;
    f->res.oom_score_adj = own_oom_score_adj();
    f->p.oom_score_adj_min = own_oom_score_adj();
    f->p.sandbox_pid = 0;
    f->p.hostname_path = hn;
    f->p.hosts_path = hosts;
    f->p.resolv_conf_path = resolv;
    f->p.shm_path = NULL;
    f->p.cgroups_path = cg;
    oci_host_facts_override(NULL); /* this machine's own facts */
    json_t *spec = spec_of(f);
    oci_host_facts_override(&facts);
    return spec;
}

static int test_runc_runs_the_container_spec(void)
{
    const char *runc = find_runc();
    if (runc == NULL || getuid() != 0 || access("/bin/busybox", R_OK) != 0) {
        printf("# skip: needs runc, root and a static /bin/busybox\n");
        return 77;
    }
    WITH_FIXTURE(f);
    char dir[] = "/tmp/crimp-oci-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char id[32];
    snprintf(id, sizeof(id), "oci-%d", (int)getpid());
    json_auto_t *spec = runc_spec(&f, dir, id);
    CHECK(spec != NULL);
    int ret = write_bundle(dir, spec);
    cleanup_free char *run =
        xasprintf("%s --root %s/state run --bundle %s %s 2>&1", runc, dir, dir, id);
    char out[4096] = "";
    FILE *p = ret == 0 ? popen(run, "r") : NULL;
    size_t n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
    int status = p ? pclose(p) : -1;
    out[n] = '\0';
    cleanup_free char *cleanup = xasprintf("%s --root %s/state delete -f %s >/dev/null 2>&1;"
                                           " rm -rf %s",
                                           runc, dir, id, dir);
    if (system(cleanup) != 0)
        fprintf(stderr, "  cleanup of %s failed\n", dir);
    if (status != 0 || strcmp(out, "ok\n") != 0)
        fprintf(stderr, "  runc exited %d: %s\n", status, out);
    CHECK(ret == 0 && status == 0 && strcmp(out, "ok\n") == 0);
    return 0;
}

int main(void)
{
    oci_host_facts_override(&facts);
    static const struct unit_test tests[] = {
        UNIT_TEST(test_user_from_image_and_security_context),
        UNIT_TEST(test_resolve_user_forms),
        UNIT_TEST(test_resolve_user_short_lines),
        UNIT_TEST(test_capabilities_add_drop_and_all),
        UNIT_TEST(test_privileged),
        UNIT_TEST(test_masked_and_readonly_paths_from_kubelet),
        UNIT_TEST(test_seccomp_runtime_default_and_caps),
        UNIT_TEST(test_default_seccomp_lifts),
        UNIT_TEST(test_seccomp_localhost_profiles),
        UNIT_TEST(test_apparmor),
        UNIT_TEST(test_runc_runs_the_container_spec),
    };
    return unit_run(tests, CRIMP_ARRAY_SIZE(tests));
}
