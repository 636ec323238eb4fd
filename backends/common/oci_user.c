/* Users and groups of an image, resolved from its /etc/passwd and
 * /etc/group texts the way containerd's oci.WithUser, WithAdditionalGIDs
 * and ensureAdditionalGids (1.6.18+) do.  */
#include "oci-internal.h"

#include "utils.h"

/* The largest id runc takes (it converts to int).  */
#define MAX_ID 2147483647LL

/* A decimal id of LEN characters at S: >= 0, -1 when S is not all digits,
 * -2 when it is but out of range.  */
static long long parse_id(const char *s, size_t len)
{
    long long v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v <= MAX_ID)
            v = v * 10 + (s[i] - '0');
    }
    return v <= MAX_ID ? v : -2;
}

/* Splits LINE in place at ':' into at most N fields; returns how many the
 * line has.  All N slots are set (those past the line's end to its
 * terminating "") so that no caller can read an unset one.  */
static size_t split_fields(char *line, char **fields, size_t n)
{
    size_t found = 0;
    bool more = true;
    for (size_t i = 0; i < n; i++) {
        fields[i] = line;
        if (!more)
            continue;
        found++;
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            line = colon + 1;
        } else {
            line += strlen(line);
            more = false;
        }
    }
    return found;
}

/* An entry (name:password:id:field3…) of an /etc/passwd or /etc/group
 * text; FIELD3 is the gid (passwd) or the member list (group).  */
struct db_entry {
    char *name;
    long long id;
    char *field3;
};

/* Finds in TEXT the entry named NAME or, for a NULL NAME, with id ID.  */
static bool db_find(const char *text, const char *name, long long id, struct db_entry *out)
{
    if (text == NULL)
        return false;
    cleanup_free char *copy = xstrdup(text);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[4];
        size_t n = split_fields(line, f, 4);
        if (n < 3)
            continue;
        long long v = parse_id(f[2], strlen(f[2]));
        if (v < 0 || (name ? strcmp(f[0], name) != 0 : v != id))
            continue;
        out->name = xstrdup(f[0]);
        out->id = v;
        out->field3 = xstrdup(f[3]);
        return true;
    }
    return false;
}

static void db_entry_clear(struct db_entry *e)
{
    free(e->name);
    free(e->field3);
    memset(e, 0, sizeof(*e));
}

/* The groups of GROUP listing USER as a member, except one named USER
 * (its primary group, counted apart), as containerd's getSupplementalGroups.  */
static void groups_of(const char *group, const char *user, gid_t **gids, size_t *n)
{
    if (group == NULL)
        return;
    cleanup_free char *copy = xstrdup(group);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[4];
        if (split_fields(line, f, 4) < 4 || strcmp(f[0], user) == 0)
            continue;
        long long gid = parse_id(f[2], strlen(f[2]));
        char *msave = NULL;
        for (char *m = strtok_r(f[3], ",", &msave); gid >= 0 && m; m = strtok_r(NULL, ",", &msave))
            if (strcmp(m, user) == 0) {
                *gids = xrealloc(*gids, (*n + 1) * sizeof(**gids));
                (*gids)[(*n)++] = (gid_t)gid;
                break;
            }
    }
}

/* The primary gid of a passwd entry; 0 when unreadable.  */
static gid_t passwd_gid(const struct db_entry *pw)
{
    long long g = parse_id(pw->field3, strlen(pw->field3));
    return g >= 0 ? (gid_t)g : 0;
}

static int resolve_uid(const char *name, const char *passwd, uid_t *uid, gid_t *gid,
                       char **username, crimp_error_t *err)
{
    struct db_entry pw = {0};
    long long id = parse_id(name, strlen(name));
    if (id == -2)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "user `%s`: out of range",
                                name);
    if (id >= 0) {
        /* A uid the image does not list still runs, with gid 0.  */
        *uid = (uid_t)id;
        *gid = db_find(passwd, NULL, id, &pw) ? passwd_gid(&pw) : 0;
    } else if (db_find(passwd, name, 0, &pw)) {
        *uid = (uid_t)pw.id;
        *gid = passwd_gid(&pw);
    } else {
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "user `%s`: not found in the image's /etc/passwd", name);
    }
    *username = steal_ptr(&pw.name);
    db_entry_clear(&pw);
    return 0;
}

static int resolve_gid(const char *name, const char *group, gid_t *gid, crimp_error_t *err)
{
    long long id = parse_id(name, strlen(name));
    if (id == -2 || name[0] == '\0')
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "group `%s`: invalid", name);
    if (id >= 0) {
        *gid = (gid_t)id;
        return 0;
    }
    struct db_entry gr = {0};
    if (!db_find(group, name, 0, &gr))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "group `%s`: not found in the image's /etc/group", name);
    *gid = (gid_t)gr.id;
    db_entry_clear(&gr);
    return 0;
}

int oci_resolve_user(const char *user, const char *passwd, const char *group, uid_t *uid,
                     gid_t *gid, gid_t **additional, size_t *n_additional, crimp_error_t *err)
{
    *additional = NULL;
    *n_additional = 0;
    const char *colon = strchr(user, ':');
    cleanup_free char *uname =
        xasprintf("%.*s", colon ? (int)(colon - user) : (int)strlen(user), user);
    cleanup_free char *username = NULL;
    if (uname[0] == '\0')
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "user `%s`: no user", user);
    if (resolve_uid(uname, passwd, uid, gid, &username, err) < 0)
        return -1;
    if (colon && resolve_gid(colon + 1, group, gid, err) < 0)
        return -1;
    if (username)
        groups_of(group, username, additional, n_additional);
    return 0;
}

char *oci_cri_user_string(const Runtime__V1__Int64Value *uid, const char *username,
                          const Runtime__V1__Int64Value *gid, crimp_error_t *err)
{
    cleanup_free char *user = NULL;
    if (!str_empty(username))
        user = xstrdup(username);
    else if (uid)
        user = xasprintf("%lld", (long long)uid->value);
    if (gid && user == NULL) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                         "runAsGroup is specified without a runAsUser");
        return NULL;
    }
    if (gid)
        return xasprintf("%s:%lld", user, (long long)gid->value);
    return steal_ptr(&user);
}

static void append_gid(json_t *gids, json_int_t gid)
{
    json_t *v;
    size_t i;
    json_array_foreach(gids, i, v) if (json_integer_value(v) == gid) return;
    json_array_append_new(gids, json_integer(gid));
}

int oci_process_set_user(json_t *process, const char *userstr, const char *passwd,
                         const char *group, const int64_t *supplemental, size_t n_supplemental,
                         crimp_error_t *err)
{
    uid_t uid = 0;
    gid_t gid = 0;
    cleanup_free gid_t *groups = NULL;
    size_t n_groups = 0;
    if (userstr &&
        oci_resolve_user(userstr, passwd, group, &uid, &gid, &groups, &n_groups, err) < 0)
        return -1;
    json_t *gids = json_array();
    /* The primary group heads the list (containerd's ensureAdditionalGids,
     * after CVE-2023-25173).  */
    if (userstr)
        append_gid(gids, gid);
    for (size_t i = 0; i < n_groups; i++)
        append_gid(gids, groups[i]);
    for (size_t i = 0; i < n_supplemental; i++)
        append_gid(gids, supplemental[i]);
    json_t *user = json_pack("{s:I, s:I}", "uid", (json_int_t)uid, "gid", (json_int_t)gid);
    if (json_array_size(gids) > 0)
        json_object_set_new(user, "additionalGids", gids);
    else
        json_decref(gids);
    json_object_set_new(process, "user", user);
    return 0;
}
