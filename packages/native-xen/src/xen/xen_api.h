// libxenctrl and libxenforeignmemory for C++: their headers have no
// extern "C" guards of their own.
#pragma once

extern "C" {
#include <xenctrl.h>
#include <xenforeignmemory.h>
}
