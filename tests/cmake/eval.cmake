# evaluation: class embeddings, region classification
atas_c_test(NAME test_classemb SOURCES test_classemb.c TIMEOUT 60)
