/* crimpctl's output formats: -o table|json|yaml (and --json), taken from
 * anywhere on the command line, and the printers every command uses.  */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pbjson.h"
#include "utils.h"

static int parse_format(const char *v, enum cli_output *out)
{
    static const struct {
        const char *name;
        enum cli_output format;
    } formats[] = {{"table", CLI_OUTPUT_TABLE}, {"json", CLI_OUTPUT_JSON},
                   {"yaml", CLI_OUTPUT_YAML}};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(formats); i++)
        if (strcmp(v, formats[i].name) == 0) {
            *out = formats[i].format;
            return 0;
        }
    fprintf(stderr, "crimpctl: -o `%s`: the output is table, json or yaml\n", v);
    return -1;
}

/* How many arguments at ARGV[I] name an output format (0: none), with the
 * format in *OUT; -1 when they do but badly.  */
static int output_option(int argc, char **argv, int i, enum cli_output *out)
{
    const char *a = argv[i];
    if (strcmp(a, "--json") == 0) {
        *out = CLI_OUTPUT_JSON;
        return 1;
    }
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
        if (i + 1 >= argc) {
            fprintf(stderr, "crimpctl: %s needs a format: table, json or yaml\n", a);
            return -1;
        }
        return parse_format(argv[i + 1], out) < 0 ? -1 : 2;
    }
    if (has_prefix(a, "--output="))
        return parse_format(a + strlen("--output="), out) < 0 ? -1 : 1;
    if (has_prefix(a, "-o") && a[2] != '\0' && a[2] != '-')
        return parse_format(a + 2, out) < 0 ? -1 : 1;
    return 0;
}

int cli_take_output_options(int *argc, char **argv, enum cli_output *out)
{
    int kept = 1;
    for (int i = 1; i < *argc;) {
        int n = output_option(*argc, argv, i, out);
        if (n < 0)
            return -1;
        if (n == 0)
            argv[kept++] = argv[i++];
        else
            i += n;
    }
    argv[kept] = NULL;
    *argc = kept;
    return 0;
}

bool cli_structured(const struct cli *cli)
{
    return cli->output != CLI_OUTPUT_TABLE;
}

void cli_print_doc(const struct cli *cli, json_t *doc)
{
    if (cli->output == CLI_OUTPUT_YAML) {
        cli_yaml_dump(doc, stdout);
    } else {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    fflush(stdout);
}

void cli_print_message(const struct cli *cli, const ProtobufCMessage *msg)
{
    json_auto_t *j = crimp_pbjson_from_message(msg);
    cli_print_doc(cli, j);
}

void cli_print_item(const struct cli *cli, json_t *doc)
{
    if (cli->output == CLI_OUTPUT_YAML) {
        fputs("---\n", stdout);
        cli_yaml_dump(doc, stdout);
    } else {
        json_dumpf(doc, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    fflush(stdout);
}
