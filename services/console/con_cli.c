/* Account management from the command line: how a city creates its first
 * admin (README "Staff console"). The password is read from stdin so it
 * never appears in the process list or shell history. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "con_accounts.h"
#include "console_service.h"

static void usage(void)
{
        fprintf(stderr,
                "usage: console create-admin [--accounts.file=F] [--totp] NAME\n"
                "       console user add [--accounts.file=F] [--totp] NAME ROLE\n"
                "ROLE: viewer, author, approver or admin. The password (at least %d bytes)\n"
                "is read from the first line of stdin.\n",
                CON_PASSWORD_MIN);
}

static int read_password(char *buf, size_t size)
{
        size_t n;

        if (!fgets(buf, (int)size, stdin))
                return -1;
        n = strcspn(buf, "\r\n");
        buf[n] = '\0';
        return 0;
}

int con_cli_main(int argc, char **argv)
{
        const char *file = getenv("OSH_CONSOLE_ACCOUNTS"), *pos[3] = {0};
        int totp = 0, npos = 0, admin = !strcmp(argv[0], "create-admin");
        char err[256], secret[64] = "", pw[CON_PASSWORD_MAX + 2];
        con_accounts_t *a;
        con_role_t role = CON_ROLE_ADMIN;
        int rc = 1;

        for (int i = admin ? 1 : 2; i < argc; i++) {
                if (!strncmp(argv[i], "--accounts.file=", 16))
                        file = argv[i] + 16;
                else if (!strcmp(argv[i], "--totp"))
                        totp = 1;
                else if (argv[i][0] != '-' && npos < 2)
                        pos[npos++] = argv[i];
                else
                        return usage(), 2;
        }
        if ((!admin && (argc < 2 || strcmp(argv[1], "add"))) || npos != (admin ? 1 : 2) ||
            (!admin && con_role_parse(pos[1], &role)))
                return usage(), 2;
        if (!file)
                file = "console.accounts";
        if (read_password(pw, sizeof(pw))) {
                fprintf(stderr, "console: no password on stdin\n");
                return 2;
        }
        if (!(a = con_accounts_open(file, 1, err, sizeof(err))) ||
            con_accounts_add(a, pos[0], pw, role, totp, secret, sizeof(secret), err, sizeof(err))) {
                fprintf(stderr, "console: %s\n", err);
                goto done;
        }
        printf("account %s (%s) written to %s\n", pos[0], con_role_name(role), file);
        if (totp)
                printf("TOTP secret (base32, 30 s, 6 digits): %s\n"
                       "otpauth://totp/oshirase:%s?secret=%s&issuer=oshirase\n",
                       secret, pos[0], secret);
        rc = 0;
done:
        memset(pw, 0, sizeof(pw));
        con_accounts_destroy(a);
        return rc;
}
