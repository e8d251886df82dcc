/* SPDX-License-Identifier: Apache-2.0 */
/* The chaincode API's probe functions in the coffee TA's dispatch (probe.c), for FOC's tests. */
#ifndef FOC_PROBE_H
#define FOC_PROBE_H

#include <foc_chaincode.h>

foc_status foc_probe_creator(struct foc_stub *stub);
foc_status foc_probe_transient(struct foc_stub *stub);
foc_status foc_probe_range(struct foc_stub *stub);
foc_status foc_probe_partial(struct foc_stub *stub);
foc_status foc_probe_put_composite(struct foc_stub *stub);

#endif /* FOC_PROBE_H */
