{
  "targets": [
    {
      "target_name": "uckpt_kvm",
      "sources": [
        "../src/addon/addon.cc",
        "../src/addon/vm_object.cc",
        "../src/addon/vcpu_state_js.cc",
        "../src/addon/vm_checkpointing.cc",
        "../src/image/elf_image.cc",
        "../src/kvm/dirty_ring.cc",
        "../src/kvm/fault_probe.cc",
        "../src/kvm/guest_memory.cc",
        "../src/kvm/kvm_backend.cc",
        "../src/kvm/machine.cc",
        "../src/kvm/system.cc",
        "../src/kvm/userfault_wp.cc",
        "../src/kvm/vcpu.cc",
        "../src/kvm/vcpu_state.cc",
        "../src/kvm/x86_boot.cc",
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
      "include_dirs": ["../node_modules/node-addon-api", "../include", "../src", "../src/kvm", "../../native-core/include", "../../native-core/napi"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers"],
      "ldflags": ["-pthread"]
    }
  ]
}
