/* Runtime conditions (RuntimeReady, NetworkReady) as a backend reports them
 * in its Status.  */
#ifndef CRIMP_CONDITIONS_H
#define CRIMP_CONDITIONS_H

#include <stdbool.h>

#include "cri.pb-c.h"

/* A heap condition TYPE, true when OK; REASON and MESSAGE only when not.  */
Runtime__V1__RuntimeCondition *crimp_condition_new(const char *type, bool ok, const char *reason,
                                                   const char *message);

/* Fills RESP with the two conditions every backend reports.  */
void crimp_conditions_set(Runtime__V1__StatusResponse *resp, bool runtime_ok,
                          const char *runtime_reason, const char *runtime_message, bool net_ok,
                          const char *net_message);

#endif
