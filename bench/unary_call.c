/* One synchronous unary call for the benchmarks: crimp_grpc_unary minus
 * what does not belong in a tight loop (packing, unpacking the reply,
 * trace spans), plus a pre-registered method.  */
#include "unary_call.h"

#include <grpc/byte_buffer.h>
#include <grpc/support/alloc.h>
#include <string.h>

#include "error.h"
#include "grpc_client.h"
#include "utils.h"

grpc_slice bench_pack_slice(const ProtobufCMessage *m)
{
    grpc_slice s = grpc_slice_malloc(protobuf_c_message_get_packed_size(m));
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    return s;
}

int bench_unary_call(grpc_channel *ch, void *method, grpc_completion_queue *cq, grpc_slice req,
                     char **error)
{
    /* kubelet always sends a deadline; so do we (it costs a timer).  */
    gpr_timespec deadline = crimp_grpc_deadline_in(10);
    grpc_call *call = grpc_channel_create_registered_call(ch, NULL, 0, cq, method, deadline, NULL);
    grpc_byte_buffer *req_bb = grpc_raw_byte_buffer_create(&req, 1);
    grpc_metadata_array initial_md, trailing_md;
    grpc_metadata_array_init(&initial_md);
    grpc_metadata_array_init(&trailing_md);
    grpc_byte_buffer *resp_bb = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;

    int ret = 0;
    grpc_call_error ce = grpc_call_start_batch(call, ops, 6, &status, NULL);
    grpc_event ev = {.type = GRPC_QUEUE_TIMEOUT};
    if (ce == GRPC_CALL_OK)
        ev = grpc_completion_queue_pluck(cq, &status, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ce != GRPC_CALL_OK || ev.type != GRPC_OP_COMPLETE || !ev.success) {
        *error = xasprintf("grpc batch failed (%s)", grpc_call_error_to_string(ce));
        ret = -1;
    } else if (status != GRPC_STATUS_OK) {
        char *text = grpc_slice_to_c_string(details);
        *error = xasprintf("%s: %s", crimp_status_name(status), text);
        gpr_free(text);
        ret = -1;
    } else if (resp_bb == NULL) {
        *error = xstrdup("the reply carried no message");
        ret = -1;
    }
    if (resp_bb)
        grpc_byte_buffer_destroy(resp_bb);
    grpc_byte_buffer_destroy(req_bb);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial_md);
    grpc_metadata_array_destroy(&trailing_md);
    grpc_call_unref(call);
    return ret;
}
