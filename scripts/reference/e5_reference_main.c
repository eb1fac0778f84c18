#include "e5.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* usage: ref MODEL query|passage TEXT... -> one line of floats per text */
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  e5_model *m = e5_load(argv[1]);
  if (!m) return 1;
  int q = strcmp(argv[2], "query") == 0, D = e5_dim(m);
  float *out = malloc(sizeof(float) * D);
  for (int i = 3; i < argc; i++) {
    if (e5_embed(m, argv[i], q, out)) return 1;
    for (int k = 0; k < D; k++) printf(k ? " %.7g" : "%.7g", out[k]);
    printf("\n");
  }
  return 0;
}
