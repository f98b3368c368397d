#!powershell

# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Read-only: reads the Uninstall registry keys in one round trip for the controller-side
# normaliser (plugins/module_utils/_software_inventory_registry.py, PROBE_SHAPE). It opens
# every key read-only, changes nothing, and decides nothing: the raw values go to the controller.

$spec = @{
    options = @{
        include_user_hives = @{ type = 'bool'; default = $true }
        max_value_chars = @{ type = 'int'; default = 4096 }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$uninstallPath = 'SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'
$valueNames = @('DisplayName', 'DisplayVersion', 'Publisher', 'InstallDate', 'SystemComponent', 'ParentKeyName')
# Loaded user profiles: HKU\<SID>. .DEFAULT (an alias of S-1-5-18) and <SID>_Classes are not profiles.
$sidPattern = '^S-1-5-\d+(-\d+)*$'
$loneSurrogate = [regex]::new('[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]')
$maxChars = $module.Params.max_value_chars
$doNotExpand = [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames

if ($maxChars -lt 256) {
    $module.FailJson("max_value_chars $maxChars is below 256")
}

function ConvertTo-ProbeString {
    # Text as it is, cut to max_value_chars. Text holding a lone UTF-16 surrogate (which no JSON
    # encoder carries safely) goes as its UTF-16 code units; the controller decodes them.
    param([string]$Text)
    if ($Text.Length -gt $maxChars) {
        $Text = $Text.Substring(0, $maxChars)
    }
    if ($loneSurrogate.IsMatch($Text)) {
        $units = [System.Collections.Generic.List[int]]::new()
        foreach ($char in $Text.ToCharArray()) {
            $units.Add([int]$char)
        }
        return @{ utf16 = $units }
    }
    return $Text
}

function ConvertTo-ProbeValue {
    # REG_SZ and REG_EXPAND_SZ (not expanded) -> text; REG_DWORD/REG_QWORD -> integer;
    # REG_MULTI_SZ -> list of text; REG_BINARY -> base64 (cut to max_value_chars bytes).
    param($Value)
    if ($Value -is [string]) {
        return ConvertTo-ProbeString -Text $Value
    }
    if ($Value -is [byte[]]) {
        $length = [Math]::Min($Value.Length, $maxChars)
        return @{ binary = [Convert]::ToBase64String($Value, 0, $length) }
    }
    if ($Value -is [string[]]) {
        $items = [System.Collections.Generic.List[object]]::new()
        foreach ($item in $Value) {
            $items.Add((ConvertTo-ProbeString -Text $item))
        }
        return @{ multi = $items }
    }
    if ($Value -is [int] -or $Value -is [long]) {
        return [int64]$Value
    }
    return [string]$Value
}

function Get-SafeName {
    param([string]$Name)
    return $loneSurrogate.Replace($Name, [string][char]0xFFFD)
}

function Read-UninstallKey {
    param(
        [Microsoft.Win32.RegistryKey]$Root,
        [string]$Scope,
        [string]$Sid,
        [string]$Path,
        [System.Collections.Generic.List[object]]$Entries,
        [System.Collections.Generic.List[object]]$Sources
    )
    $source = @{ scope = $Scope; sid = $Sid; path = $Path; found = $false; error = $null }
    $key = $null
    try {
        $key = $Root.OpenSubKey($uninstallPath)
    }
    catch {
        $source.error = $_.Exception.Message
    }
    if ($null -ne $key) {
        $source.found = $true
        try {
            foreach ($name in $key.GetSubKeyNames()) {
                $entry = @{ scope = $Scope; sid = $Sid; key = (Get-SafeName -Name $name); values = @{}; error = $null }
                try {
                    $sub = $key.OpenSubKey($name)
                    if ($null -eq $sub) {
                        $entry.error = 'the key was removed while it was read'
                    }
                    else {
                        try {
                            foreach ($valueName in $valueNames) {
                                $raw = $sub.GetValue($valueName, $null, $doNotExpand)
                                if ($null -ne $raw) {
                                    $entry.values[$valueName] = ConvertTo-ProbeValue -Value $raw
                                }
                            }
                        }
                        finally {
                            $sub.Close()
                        }
                    }
                }
                catch {
                    $entry.error = $_.Exception.Message
                }
                $Entries.Add($entry)
            }
        }
        catch {
            $source.error = $_.Exception.Message
        }
        finally {
            $key.Close()
        }
    }
    $Sources.Add($source)
}

$entries = [System.Collections.Generic.List[object]]::new()
$sources = [System.Collections.Generic.List[object]]::new()
$is64 = [Environment]::Is64BitOperatingSystem

# HKLM in the native view, and on a 64-bit OS also the 32-bit view (WOW6432Node).
$machineViews = [System.Collections.Generic.List[object]]::new()
if ($is64) {
    $machineViews.Add(@{ scope = 'machine'; view = [Microsoft.Win32.RegistryView]::Registry64 })
    $machineViews.Add(@{ scope = 'machine_wow64'; view = [Microsoft.Win32.RegistryView]::Registry32 })
}
else {
    $machineViews.Add(@{ scope = 'machine'; view = [Microsoft.Win32.RegistryView]::Default })
}
foreach ($machine in $machineViews) {
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $machine.view)
    try {
        $path = 'HKLM\{0} ({1} view)' -f $uninstallPath, $machine.view
        Read-UninstallKey -Root $base -Scope $machine.scope -Sid $null -Path $path -Entries $entries -Sources $sources
    }
    finally {
        $base.Close()
    }
}

if ($module.Params.include_user_hives) {
    $users = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::Users, [Microsoft.Win32.RegistryView]::Default)
    try {
        foreach ($sid in $users.GetSubKeyNames()) {
            if ($sid -notmatch $sidPattern) {
                continue
            }
            $path = 'HKU\{0}\{1}' -f $sid, $uninstallPath
            $hive = $null
            try {
                $hive = $users.OpenSubKey($sid)
            }
            catch {
                $sources.Add(@{ scope = 'user'; sid = $sid; path = $path; found = $false; error = $_.Exception.Message })
                continue
            }
            if ($null -eq $hive) {
                continue
            }
            try {
                Read-UninstallKey -Root $hive -Scope 'user' -Sid $sid -Path $path -Entries $entries -Sources $sources
            }
            finally {
                $hive.Close()
            }
        }
    }
    finally {
        $users.Close()
    }
}

$module.Result.probe = @{
    concern = 'software_inventory'
    probe_version = 1
    host = @{
        computer_name = [string]$env:COMPUTERNAME
        os_64bit = $is64
        os_version = [Environment]::OSVersion.Version.ToString()
    }
    sources = $sources
    entries = $entries
}
$module.Result.changed = $false
$module.ExitJson()
