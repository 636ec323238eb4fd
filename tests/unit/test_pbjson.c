/* crimpctl's JSON: protobuf's JSON mapping as crictl prints it — camelCase
 * names, enums by name, 64-bit integers as decimal strings (JSON numbers
 * lose precision past 2^53), zero scalars left out.  */
#include "cri.pb-c.h"
#include "pbjson.h"
#include "unit.h"
#include "utils.h"

static int test_int64_are_strings(void)
{
    Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
    md.name = "web";
    md.attempt = 2;
    Runtime__V1__ContainerStatus st = RUNTIME__V1__CONTAINER_STATUS__INIT;
    st.id = "abc";
    st.metadata = &md;
    st.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
    st.created_at = 9007199254740993LL; /* 2^53 + 1: a double cannot hold it */
    st.exit_code = 0;
    json_auto_t *j = crimp_pbjson_from_message(&st.base);
    CHECK(j != NULL);
    CHECK(strcmp(json_string_value(json_object_get(j, "createdAt")), "9007199254740993") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "state")), "CONTAINER_EXITED") == 0);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "metadata"), "attempt")) == 2);
    CHECK(json_object_get(j, "exitCode") == NULL); /* proto3: zero is not sent */
    Runtime__V1__UInt64Value used = RUNTIME__V1__UINT64_VALUE__INIT;
    used.value = 18446744073709551615ULL;
    json_auto_t *u = crimp_pbjson_from_message(&used.base);
    CHECK(strcmp(json_string_value(json_object_get(u, "value")), "18446744073709551615") == 0);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {UNIT_TEST(test_int64_are_strings)};
    return unit_run(tests, CRIMP_ARRAY_SIZE(tests));
}
