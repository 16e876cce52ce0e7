# EVA02-CLIP backbones (docs/eva02.md)
atas_c_test(NAME test_eva_torch SOURCES test_eva_torch.c TIMEOUT 600)
