// libxenctrl, libxendevicemodel, libxenguest, libxenforeignmemory and
// libxenstore for C++: their headers have no extern "C" guards of their own.
#pragma once

extern "C" {
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>
#include <xenguest.h>
#include <xenstore.h>
#include <xen/hvm/params.h>
#include <xen/hvm/save.h>
#include <xen/io/console.h>
#include <xen/io/xs_wire.h>

// Exported by libxenctrl 4.17 but declared only in its private header
// (the toolstack's save path uses it to skip frames that are Xen's).
int xc_get_pfn_type_batch(xc_interface* xch, uint32_t dom, unsigned int num, xen_pfn_t* arr);
}

namespace uckpt::xen {
// libxenctrl and friends log every failure to stderr by default; ours are
// thrown with the operation and errno, so their own messages only repeat
// them. Pass this to every *_open.
xentoollog_logger* quiet_logger();
}  // namespace uckpt::xen
