/* Unit tests for stream/ws_portforward.c's port list: the `port` query
 * parameters as kubelet's NewV4Options reads them, and the
 * PortForwardRequest's ports when the query has none.  */
#include <stdlib.h>
#include <string.h>

#include "stream-internal.h"
#include "unit.h"
#include "utils.h"

static int ports_of(const char *query, int32_t *req_ports, size_t n_req, int *out, char **why)
{
    Runtime__V1__PortForwardRequest pf = RUNTIME__V1__PORT_FORWARD_REQUEST__INIT;
    pf.pod_sandbox_id = "pod";
    pf.port = req_ports;
    pf.n_port = n_req;
    struct stream_request r = {.kind = CRIMP_STREAM_PORTFORWARD, .req = &pf.base};
    *why = NULL;
    return ws_portforward_ports(query, &r, out, 4, why);
}

static int test_query_ports(void)
{
    int p[4];
    char *why;
    CHECK(ports_of("port=8080", NULL, 0, p, &why) == 1 && p[0] == 8080);
    CHECK(ports_of("x=1&port=80,443&port=9&y", NULL, 0, p, &why) == 3);
    CHECK(p[0] == 80 && p[1] == 443 && p[2] == 9);
    CHECK(ports_of("port=80%2c81", NULL, 0, p, &why) == 2 && p[1] == 81);
    /* The query wins over the request; the request fills an empty query.  */
    int32_t req[] = {5000, 6000};
    CHECK(ports_of("port=1", req, 2, p, &why) == 1 && p[0] == 1);
    CHECK(ports_of("", req, 2, p, &why) == 2 && p[0] == 5000 && p[1] == 6000);
    return 0;
}

static int test_bad_ports(void)
{
    static const char *const bad[] = {"",           "port=",        "port",
                                      "port=0",     "port=65536",   "port=80,",
                                      "port=8o",    "port=-1",      "port=1,2,3,4,5",
                                      "port=123456789"};
    int p[4];
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(bad); i++) {
        char *why;
        CHECK(ports_of(bad[i], NULL, 0, p, &why) == -1);
        CHECK(why != NULL && strlen(why) > 0);
        free(why);
    }
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_query_ports),
        UNIT_TEST(test_bad_ports),
    };
    return unit_run(tests, CRIMP_ARRAY_SIZE(tests));
}
