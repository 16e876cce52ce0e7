/* Private to src/io: the EVA02 family's name maps (namemap_eva.c) and its
 * shape-based config inference (weights_eva.c). */
#ifndef ATAS_IO_NAMEMAP_EVA_H
#define ATAS_IO_NAMEMAP_EVA_H

#include "atas/weights.h"

int atas_namemap_eva_parts(const atas_vit_config *c, const atas_param_info *info, int idx,
                           atas_layout layout, atas_namemap_part parts[3]);
int atas_namemap_eva_is_vision(const char *name, atas_layout layout);
int atas_namemap_eva_is_baai(const char *name); /* visual.blocks.* / visual.patch_embed.* */
int atas_namemap_eva_is_timm(const char *name); /* visual.trunk.* */

#endif
