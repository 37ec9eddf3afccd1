{
  "targets": [
    {
      "target_name": "uckpt_xen",
      "sources": [
        "../src/addon/addon.cc",
        "../src/addon/domain_object.cc",
        "../src/xen/domain.cc",
        "../src/xen/xen_backend.cc",
        "../../native-core/napi/checkpointing_js.cc",
        "../../native-core/src/checkpoint_config.cc",
        "../../native-core/src/checkpoint_ring.cc",
        "../../native-core/src/checkpointer.cc",
        "../../native-core/src/copy_pool.cc",
        "../../native-core/src/cost_model.cc",
        "../../native-core/src/cow_fault_server.cc",
        "../../native-core/src/crc32c.cc",
        "../../native-core/src/hot_pages.cc",
        "../../native-core/src/page_store.cc",
        "../../native-core/src/predictor.cc"
      ],
      "include_dirs": [
        "../node_modules/node-addon-api",
        "../src",
        "../../native-core/include",
        "../../native-core/napi",
        "../../native-kvm/include",
        "../../native-kvm/src/addon"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++20", "-fexceptions", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers"],
      "libraries": ["-lxenctrl", "-lxenforeignmemory"],
      "ldflags": ["-pthread"]
    }
  ]
}
