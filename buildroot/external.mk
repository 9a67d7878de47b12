# The package recipes of the Hotspare BR2_EXTERNAL tree (one directory per package).
include $(sort $(wildcard $(BR2_EXTERNAL_HOTSPARE_PATH)/package/*/*.mk))
