{
  "targets": [
    {
      "target_name": "uckpt_xen",
      "sources": [
        "../src/addon/addon.cc",
        "../src/addon/domain_object.cc",
        "../src/xen/domain.cc",
        "../src/xen/guest_channels.cc",
        "../src/xen/xenstore_exchange.cc",
        "../src/xen/hvm_context.cc",
        "../src/xen/toolstack.cc",
        "../src/xen/xen_backend.cc"
      ],
      "include_dirs": [
        "../node_modules/node-addon-api",
        "../src",
        "../../guest/include",
        "../../guest/napi",
        "../../native-core/include",
        "../../native-core/napi"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "_GNU_SOURCE"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-std=gnu++20",
        "-fexceptions",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-missing-field-initializers"
      ],
      "libraries": [
        "<(module_root_dir)/../../native-core/build/libuckpt_core_napi.a",
        "<(module_root_dir)/../../native-core/build/libuckpt_core.a",
        "-lxenctrl",
        "-lxendevicemodel",
        "-lxenforeignmemory",
        "-lxenguest",
        "-lxenstore"
      ],
      "ldflags": [
        "-pthread"
      ]
    },
    {
      "target_name": "xenstore_exchange_test",
      "type": "executable",
      "sources": [
        "../test/xenstore_exchange_test.cc",
        "../src/xen/xenstore_exchange.cc"
      ],
      "include_dirs": [
        "../src",
        "../../native-core/test"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-std=gnu++20",
        "-fexceptions",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-missing-field-initializers"
      ]
    }
  ]
}
