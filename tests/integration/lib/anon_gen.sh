# shellcheck shell=bash
# anon_gen N BATCH OUT_JSONL OUT_FORBIDDEN: N deterministic resident.raw.v1
# records as JSON lines (reference date 2024-10-04 = day 20000), and the
# personal data in them as forbidden strings for pii_scan.sh: names, kana,
# 宛名番号, birth dates as YYYYMMDD, YYYY-MM-DD and era form (S550520),
# address text and the full 30-digit address code.
# Record 7 has no 宛名番号; records 10 and 20 share a registered 利用者ID;
# about 4% are 100 or older.
anon_gen() {
        awk -v n="$1" -v batch="$2" -v fb="$4" '
        function civil(z,   era, doe, yoe, doy, mp, d, m, y) {
                z += 719468
                era = int((z >= 0 ? z : z - 146096) / 146097)
                doe = z - era * 146097
                yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
                doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
                mp = int((5 * doy + 2) / 153)
                d = doy - int((153 * mp + 2) / 5) + 1
                m = mp < 10 ? mp + 3 : mp - 9
                y = yoe + era * 400 + (m <= 2)
                return sprintf("%04d%02d%02d", y, m, d)
        }
        function era(ymd,   y) {
                y = substr(ymd, 1, 4) + 0
                if (ymd >= "20190501") return sprintf("R%02d%s", y - 2018, substr(ymd, 5))
                if (ymd >= "19890108") return sprintf("H%02d%s", y - 1988, substr(ymd, 5))
                if (ymd >= "19261225") return sprintf("S%02d%s", y - 1925, substr(ymd, 5))
                return sprintf("T%02d%s", y - 1911, substr(ymd, 5))
        }
        function dates(d,   ymd) {
                ymd = civil(d)
                print ymd > fb
                print era(ymd) > fb
                print substr(ymd, 1, 4) "-" substr(ymd, 5, 2) "-" substr(ymd, 7, 2) > fb
        }
        BEGIN {
                split("佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤", fam, " ")
                split("タロウ ハナコ ケンジ ユミ ヒロシ アキラ サクラ", kana, " ")
                split("太郎 花子 健二 由美 博 明 さくら", giv, " ")
                split("MALE FEMALE MALE FEMALE UNKNOWN", sexes, " ")
                for (i = 1; i <= n; i++) {
                        atena = i == 7 ? "" : sprintf("31%08d", i)
                        name = fam[i % 10 + 1] giv[i % 7 + 1] i
                        nk = "カナ" kana[i % 7 + 1] i
                        birth = -18000 + (i * 7919) % 37000
                        ward = i % 2 + 1
                        town = i % 3 + 1
                        code = sprintf("1210%d%05d%010d%010d", ward, town, 0, i)
                        addr = sprintf("千葉市第%d区本町%d丁目%d番地", ward, town, i)
                        uid = (i == 10 || i == 20) ? "\"LN-DUP\"" : (i % 5 == 0 ? "\"LN" i "\"" : "null")
                        mem = ""
                        if (i % 3 == 0) {
                                sp = birth + 300
                                ch = 17000 + (i % 2000)
                                mem = sprintf("{\"relationship\":\"SPOUSE\",\"birth_date\":%d},{\"relationship\":\"CHILD\",\"birth_date\":%d}", sp, ch)
                                dates(sp); dates(ch)
                        }
                        printf "{\"atena_no\":\"%s\",\"batch_id\":\"%s\",\"reference_date\":20000,", atena, batch
                        printf "\"name\":\"%s\",\"name_kana\":\"%s\",\"sex\":\"%s\",\"birth_date\":%d,", name, nk, sexes[i % 5 + 1], birth
                        printf "\"address_code\":\"%s\",\"address_text\":\"%s\",\"household_id\":\"HH%07d\",", code, addr, i
                        printf "\"relationship\":\"HEAD\",\"household_members\":[%s],", mem
                        printf "\"tax_current\":\"%s\",\"nhi\":%s,", i % 2 ? "TAXED" : "NOT_TAXED", i % 4 ? "false" : "true"
                        printf "\"extensions\":{\"ext_01\":\"%d\"},", i % 2
                        printf "\"applicant\":{\"user_id\":%s,\"consent_categories\":[],\"applied_at\":null}}\n", uid
                        print name > fb; print nk > fb; print addr > fb; print code > fb
                        if (atena != "") print atena > fb
                        dates(birth)
                }
        }' >"$3"
}
