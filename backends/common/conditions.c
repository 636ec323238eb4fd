/* Runtime conditions, built the same way by every backend.  */
#include "conditions.h"
#include "pbutil.h"
#include "utils.h"

Runtime__V1__RuntimeCondition *crimp_condition_new(const char *type, bool ok, const char *reason,
                                                   const char *message)
{
    Runtime__V1__RuntimeCondition *c = xmalloc(sizeof(*c));
    runtime__v1__runtime_condition__init(c);
    c->type = xstrdup(type);
    c->status = ok;
    c->reason = crimp_pb_strdup(ok ? "" : reason);
    c->message = crimp_pb_strdup(ok ? "" : message);
    return c;
}

void crimp_conditions_set(Runtime__V1__StatusResponse *resp, bool runtime_ok,
                          const char *runtime_reason, const char *runtime_message, bool net_ok,
                          const char *net_message)
{
    resp->status = xmalloc(sizeof(*resp->status));
    runtime__v1__runtime_status__init(resp->status);
    resp->status->n_conditions = 2;
    resp->status->conditions = xcalloc(2, sizeof(*resp->status->conditions));
    resp->status->conditions[0] = crimp_condition_new("RuntimeReady", runtime_ok, runtime_reason,
                                                      runtime_message ? runtime_message : "");
    resp->status->conditions[1] = crimp_condition_new("NetworkReady", net_ok,
                                                      "NetworkPluginNotReady",
                                                      net_message ? net_message : "");
}
