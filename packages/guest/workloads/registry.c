/* The workloads, in the order the host and the guest list them. */
#include "workload.h"

extern const wl_descriptor wl_hashtable, wl_sort, wl_graph, wl_compress, wl_dp, wl_dirtier, wl_dirtier_phases;

const wl_descriptor *const wl_all[] = {
    &wl_hashtable, &wl_sort, &wl_graph, &wl_compress, &wl_dp, &wl_dirtier, &wl_dirtier_phases,
};
const size_t wl_count = sizeof wl_all / sizeof wl_all[0];
