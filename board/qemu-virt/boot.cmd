# Hotspare boot script (U-Boot hush): A/B boot counting with the state in two
# files on the FAT boot partition, bootstate.0 and bootstate.1 (format and
# contract: docs/design/boot-counting.md). Each file is
#   BS_CRC=<8 hex>\n            (16 bytes: crc32 of everything after this line)
#   BOOT_A_LEFT=..\nBOOT_B_LEFT=..\nBOOT_ORDER=..\nBS_SEQ=<hex>\n
# Build: mkimage -A arm64 -T script -C none -d boot.cmd boot.scr
setenv bs_dev "${devtype} ${devnum}:${distro_bootpart}"
setenv bs_buf 0x50000000
setenv bs_body 0x50000010
setenv bs_hdr 0x50100000
setenv bs_best
setenv bs_best_seq 0
setenv bs_older 0
# crc32 stores its result as 4 big-endian bytes at bs_crc_mem; mw.l stores the
# header's value little-endian at bs_hdr_mem: compare byte 0 with byte 3, etc.
setenv bs_crc_mem 0x50200000
setenv bs_hdr_mem 0x50200010

# Verify one copy: load it, crc32 of the body against the header, import.
for n in 0 1; do
  setenv bs_ok
  setenv BS_CRC
  setenv BS_SEQ
  if load ${bs_dev} ${bs_buf} bootstate.${n}; then
    if itest ${filesize} > 0x10; then
      setexpr bs_len ${filesize} - 0x10
      crc32 ${bs_body} ${bs_len} ${bs_crc_mem}
      env import -t ${bs_buf} 0x10 BS_CRC
      mw.l ${bs_hdr_mem} 0
      setenv bs_match
      if test -n "${BS_CRC}" && mw.l ${bs_hdr_mem} ${BS_CRC}; then
        setenv bs_match 1
        for i in 0 1 2 3; do
          setexpr bs_a ${bs_crc_mem} + ${i}
          setexpr bs_b 3 - ${i}
          setexpr bs_b ${bs_hdr_mem} + ${bs_b}
          itest.b *${bs_a} == *${bs_b} || setenv bs_match
        done
      fi
      if test -n "${bs_match}"; then
        env import -t ${bs_body} ${bs_len} BS_SEQ
        if test -n "${BS_SEQ}"; then setenv bs_ok 1; fi
      fi
    fi
  fi
  if test -n "${bs_ok}"; then
    echo "hotspare-boot: bootstate.${n} valid, seq ${BS_SEQ}"
    if test -z "${bs_best}"; then
      setenv bs_best ${n}; setenv bs_best_seq ${BS_SEQ}
    elif itest ${BS_SEQ} > ${bs_best_seq}; then
      setenv bs_best ${n}; setenv bs_best_seq ${BS_SEQ}
    fi
  else
    echo "hotspare-boot: bootstate.${n} invalid or missing"
  fi
done

setenv BOOT_ORDER
setenv BOOT_A_LEFT
setenv BOOT_B_LEFT
if test -n "${bs_best}"; then
  load ${bs_dev} ${bs_buf} bootstate.${bs_best}
  setexpr bs_len ${filesize} - 0x10
  env import -t ${bs_body} ${bs_len} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
  if test "${bs_best}" = "0"; then setenv bs_older 1; else setenv bs_older 0; fi
  setexpr BS_SEQ ${bs_best_seq} + 1
else
  echo "hotspare-boot: no valid boot state, using defaults"
  setenv BS_SEQ 1
fi
test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

# Pick the first slot of BOOT_ORDER with tries left and decrement it.
setenv bs_slot
setenv bs_known
for s in ${BOOT_ORDER}; do
  if test "${s}" = "A" || test "${s}" = "B"; then setenv bs_known 1; fi
  if test -n "${bs_slot}"; then
    true
  elif test "${s}" = "A" && itest ${BOOT_A_LEFT} > 0; then
    setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
    setenv bs_slot A; setenv bs_left ${BOOT_A_LEFT}
  elif test "${s}" = "B" && itest ${BOOT_B_LEFT} > 0; then
    setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
    setenv bs_slot B; setenv bs_left ${BOOT_B_LEFT}
  fi
done
if test -z "${bs_slot}"; then
  echo "hotspare-boot: no slot has tries left, resetting both to 3"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  # A BOOT_ORDER naming no slot would reset forever: back to the default.
  test -n "${bs_known}" || setenv BOOT_ORDER "A B"
fi

# Write the new state to the older copy (seq+1) before booting.
env export -t ${bs_body} BOOT_A_LEFT BOOT_B_LEFT BOOT_ORDER BS_SEQ
setexpr bs_len ${filesize} - 1
crc32 ${bs_body} ${bs_len} ${bs_crc_mem}
setenv BS_CRC
for i in 0 1 2 3; do
  setexpr bs_a ${bs_crc_mem} + ${i}
  setexpr.b bs_byte *${bs_a}
  if itest.b *${bs_a} < 0x10; then setenv bs_byte 0${bs_byte}; fi
  setenv BS_CRC ${BS_CRC}${bs_byte}
done
env export -t ${bs_hdr} BS_CRC
cp.b ${bs_hdr} ${bs_buf} 0x10
setexpr bs_len ${bs_len} + 0x10
fatwrite ${bs_dev} ${bs_buf} bootstate.${bs_older} ${bs_len}
echo "hotspare-boot: wrote bootstate.${bs_older} seq ${BS_SEQ}"

if test -z "${bs_slot}"; then
  reset
fi
echo "hotspare-boot: slot ${bs_slot} (tries left ${bs_left})"
# GPT partition names are lower case (root-a, root-b: board/qemu-virt/disk-layout)
if test "${bs_slot}" = "A"; then setenv bs_part root-a; else setenv bs_part root-b; fi
setenv bootargs "console=ttyAMA0 panic=-1 root=PARTLABEL=${bs_part} ro rauc.slot=${bs_slot}"
if load ${bs_dev} ${kernel_addr_r} ${bs_slot}/Image; then
  # The front panel (docs/design/image.md, "Boards"): QEMU's virt machine has one PL061 GPIO
  # controller with 8 lines; its DT uses line 3 for the power button (gpio-keys). A copy of
  # U-Boot's control DT gets a gpio-leds node with the LEDs of board/qemu-virt/leds.toml on
  # lines 0 1 2 4 5 and a gpio-keys node "hotspare front panel" with the two panel keys that
  # fit, Enter (line 6) and Escape (line 7); keys active high (QEMU pulls the lines down).
  # Any step failing boots the DT as it was (the LEDs are not worth a boot).
  setenv bs_fdt ${fdtcontroladdr}
  setenv bs_dt
  if fdt addr ${fdtcontroladdr} && fdt get value bs_gpio /pl061@9030000 phandle && fdt move ${fdtcontroladdr} 0x48000000 0x200000; then
    setenv bs_dt 1
    fdt mknode / leds && fdt set /leds compatible gpio-leds || setenv bs_dt
    fdt mknode /leds power && fdt set /leds/power label hotspare:green:power && fdt set /leds/power gpios "<${bs_gpio} 0 0>" && fdt set /leds/power default-state on || setenv bs_dt
    fdt mknode /leds status && fdt set /leds/status label hotspare:green:status && fdt set /leds/status gpios "<${bs_gpio} 1 0>" && fdt set /leds/status linux,default-trigger timer || setenv bs_dt
    fdt mknode /leds failover && fdt set /leds/failover label hotspare:blue:failover && fdt set /leds/failover gpios "<${bs_gpio} 2 0>" || setenv bs_dt
    fdt mknode /leds bay1 && fdt set /leds/bay1 label hotspare:amber:bay1 && fdt set /leds/bay1 gpios "<${bs_gpio} 4 0>" || setenv bs_dt
    fdt mknode /leds bay2 && fdt set /leds/bay2 label hotspare:amber:bay2 && fdt set /leds/bay2 gpios "<${bs_gpio} 5 0>" || setenv bs_dt
    fdt mknode / panel-keys && fdt set /panel-keys compatible gpio-keys && fdt set /panel-keys label "hotspare front panel" || setenv bs_dt
    fdt mknode /panel-keys enter && fdt set /panel-keys/enter label Enter && fdt set /panel-keys/enter gpios "<${bs_gpio} 6 0>" && fdt set /panel-keys/enter linux,code "<28>" || setenv bs_dt
    fdt mknode /panel-keys escape && fdt set /panel-keys/escape label Escape && fdt set /panel-keys/escape gpios "<${bs_gpio} 7 0>" && fdt set /panel-keys/escape linux,code "<1>" || setenv bs_dt
  fi
  if test -n "${bs_dt}"; then
    setenv bs_fdt 0x48000000
    echo "hotspare-boot: front panel: 5 LEDs and 2 keys on the PL061 (DT at ${bs_fdt})"
  else
    echo "hotspare-boot: front panel: DT not changed (no PL061?), booting without LEDs and keys"
  fi
  if load ${bs_dev} ${ramdisk_addr_r} ${bs_slot}/initrd; then
    booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${bs_fdt}
  else
    booti ${kernel_addr_r} - ${bs_fdt}
  fi
fi
echo "hotspare-boot: no kernel for slot ${bs_slot}, powering off"
poweroff
reset
