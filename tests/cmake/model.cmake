atas_c_test(NAME test_vit_config SOURCES test_vit_config.c LINK atas_model)
atas_c_test(NAME test_vit_grad SOURCES test_vit_grad.c LINK atas_model)
atas_c_test(NAME test_vit_torch SOURCES test_vit_torch.c TIMEOUT 600)
