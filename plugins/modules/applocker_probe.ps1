#!powershell

# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Read-only: reports in one round trip what the controller reads for AppLocker - the policy as
# Get-AppLockerPolicy -Xml writes it, the Application Identity service, the AppLocker event logs
# (plugins/module_utils/_applocker_plan.py, PROBE_SHAPE) and the user-writable folders under the
# allowed paths (plugins/module_utils/_applocker_writable.py; docs/applocker.md). It reports raw
# access masks and judges nothing; it never changes anything.

$spec = @{
    options = @{
        policy = @{ type = 'str'; choices = @('local', 'domain', 'effective', 'none'); default = 'local' }
        ldap = @{ type = 'str' }
        scan_roots = @{ type = 'list'; elements = 'str'; default = @() }
        max_folders = @{ type = 'int'; default = 500000 }
        max_errors = @{ type = 'int'; default = 50 }
        service_name = @{ type = 'str'; default = 'AppIDSvc' }
        channels = @{ type = 'list'; elements = 'str'; default = @('Microsoft-Windows-AppLocker/EXE and DLL', 'Microsoft-Windows-AppLocker/MSI and Script', 'Microsoft-Windows-AppLocker/Packaged app-Deployment', 'Microsoft-Windows-AppLocker/Packaged app-Execution') }
    }
    required_if = @(, @('policy', 'domain', @('ldap')))
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

if ($module.Params.service_name -notmatch '^[A-Za-z0-9_.-]{1,64}$') {
    $module.FailJson("service_name '$($module.Params.service_name)' may hold only letters, digits, '.', '_' and '-'")
}
if ($module.Params.policy -eq 'domain' -and $module.Params.ldap -notmatch '^LDAP://[^\x00-\x1f]+$') {
    $module.FailJson("ldap '$($module.Params.ldap)' is not a GPO's LDAP path (LDAP://DC/CN={GUID},CN=Policies,CN=System,DC=...)")
}
if ($module.Params.max_folders -lt 1) {
    $module.FailJson("max_folders $($module.Params.max_folders) must be at least 1")
}

# --- the policy ------------------------------------------------------------------------------
$policy = @{ source = $module.Params.policy; ldap = $null; xml = $null; error = $null }
if ($module.Params.policy -ne 'none') {
    try {
        Import-Module -Name AppLocker -ErrorAction Stop
        if ($module.Params.policy -eq 'local') {
            $xml = Get-AppLockerPolicy -Local -Xml -ErrorAction Stop
        }
        elseif ($module.Params.policy -eq 'effective') {
            $xml = Get-AppLockerPolicy -Effective -Xml -ErrorAction Stop
        }
        else {
            $policy.ldap = $module.Params.ldap
            $xml = Get-AppLockerPolicy -Domain -Ldap $module.Params.ldap -Xml -ErrorAction Stop
        }
        $policy.xml = [string]$xml
    }
    catch {
        $policy.error = "$($_.Exception.GetType().FullName): $($_.Exception.Message)"
    }
}

# --- the Application Identity service ----------------------------------------------------------
$startModes = @{ 0 = 'boot'; 1 = 'system'; 2 = 'auto'; 3 = 'manual'; 4 = 'disabled' }
$service = @{ name = $module.Params.service_name; exists = $false; state = $null; start_mode = $null }
$serviceKey = Join-Path -Path 'HKLM:\SYSTEM\CurrentControlSet\Services' -ChildPath $module.Params.service_name
if (Test-Path -LiteralPath $serviceKey) {
    $service.exists = $true
    $values = Get-ItemProperty -LiteralPath $serviceKey -ErrorAction SilentlyContinue
    if ($null -ne $values -and $null -ne $values.Start -and $startModes.ContainsKey([int]$values.Start)) {
        $service.start_mode = $startModes[[int]$values.Start]
        if ($service.start_mode -eq 'auto' -and [int]$values.DelayedAutostart -eq 1) {
            $service.start_mode = 'delayed'
        }
    }
    $running = Get-Service -Name $module.Params.service_name -ErrorAction SilentlyContinue
    if ($null -ne $running) {
        $service.state = $running.Status.ToString().ToLowerInvariant()
    }
}

# --- the AppLocker event logs ------------------------------------------------------------------
$eventlogs = [System.Collections.Generic.List[object]]::new()
foreach ($channel in $module.Params.channels) {
    $entry = @{ channel = $channel; exists = $false; max_size = $null; enabled = $null }
    try {
        $log = [System.Diagnostics.Eventing.Reader.EventLogConfiguration]::new($channel)
        $entry.exists = $true
        $entry.max_size = [int64]$log.MaximumSizeInBytes
        $entry.enabled = [bool]$log.IsEnabled
    }
    catch {
        # .NET exceptions from a constructor arrive wrapped in a MethodInvocationException.
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) {
            $inner = $inner.InnerException
        }
        if ($inner -isnot [System.Diagnostics.Eventing.Reader.EventLogNotFoundException]) {
            $module.FailJson("cannot read the configuration of event log ${channel}: $($inner.Message)", $_)
        }
    }
    $eventlogs.Add($entry)
}

# --- user-writable folders under the allowed paths ----------------------------------------------
# A folder is reported when a grantee other than SYSTEM, Administrators and the per-service SIDs
# (TrustedInstaller among them) has an Allow ACE applying to the folder itself (not InheritOnly)
# with FILE_WRITE_DATA, FILE_APPEND_DATA, WRITE_DAC, WRITE_OWNER, GENERIC_WRITE or GENERIC_ALL.
# A folder below a reported one is not reported again when each such grantee of it has the same
# masks there (inherited ACEs): the exception for the folder above already covers it, and temporary
# subfolders that come and go do not change the result.
$writeBits = 0x500C0006
$skipped = @('S-1-5-18', 'S-1-5-32-544')
$windows = [Environment]::GetFolderPath('Windows')
$redirected = [Environment]::Is64BitOperatingSystem -and -not [Environment]::Is64BitProcess

function Get-ExistingFolder {
    param([string[]]$Candidates)
    $found = [System.Collections.Generic.List[string]]::new()
    foreach ($candidate in $Candidates) {
        if ($candidate -and (Test-Path -LiteralPath $candidate -PathType Container) -and -not $found.Contains($candidate)) {
            $found.Add($candidate)
        }
    }
    return , $found.ToArray()
}

$nativeProgramFiles = [Environment]::GetEnvironmentVariable('ProgramW6432')
if (-not $nativeProgramFiles) {
    $nativeProgramFiles = [Environment]::GetEnvironmentVariable('ProgramFiles')
}
$variables = @{
    '%OSDRIVE%' = Get-ExistingFolder -Candidates @([Environment]::GetEnvironmentVariable('SystemDrive'))
    '%WINDIR%' = Get-ExistingFolder -Candidates @($windows)
    '%SYSTEM32%' = Get-ExistingFolder -Candidates @((Join-Path -Path $windows -ChildPath 'System32'), (Join-Path -Path $windows -ChildPath 'SysWOW64'))
    '%PROGRAMFILES%' = Get-ExistingFolder -Candidates @($nativeProgramFiles, [Environment]::GetEnvironmentVariable('ProgramFiles(x86)'))
    '%REMOVABLE%' = @()
    '%HOT%' = @()
}

$names = @{}
function Get-AccountName {
    param([string]$Sid)
    if (-not $names.ContainsKey($Sid)) {
        try {
            $names[$Sid] = [System.Security.Principal.SecurityIdentifier]::new($Sid).Translate([System.Security.Principal.NTAccount]).Value
        }
        catch {
            $names[$Sid] = ''
        }
    }
    return $names[$Sid]
}

function Get-FolderGrantee {
    # Per SID, the OR of its Allow and of its Deny ACEs that apply to the folder itself (raw Int32 masks).
    param([System.IO.DirectoryInfo]$Folder)
    $acl = $Folder.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
    $masks = @{}
    foreach ($ace in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        if (($ace.PropagationFlags -band [System.Security.AccessControl.PropagationFlags]::InheritOnly) -ne 0) {
            continue
        }
        $sid = $ace.IdentityReference.Value
        if (-not $masks.ContainsKey($sid)) {
            $masks[$sid] = @{ allow = 0; deny = 0 }
        }
        if ($ace.AccessControlType -eq [System.Security.AccessControl.AccessControlType]::Allow) {
            $masks[$sid].allow = $masks[$sid].allow -bor [int]$ace.FileSystemRights
        }
        else {
            $masks[$sid].deny = $masks[$sid].deny -bor [int]$ace.FileSystemRights
        }
    }
    return $masks
}

function Get-Writer {
    # The grantees that make a folder a candidate, as 'SID=ALLOW/DENY' signatures.
    param([hashtable]$Masks)
    $writers = @{}
    foreach ($sid in $Masks.Keys) {
        if ($skipped -contains $sid -or $sid.StartsWith('S-1-5-80-')) {
            continue
        }
        if (($Masks[$sid].allow -band $writeBits) -ne 0) {
            $writers[$sid] = '{0}/{1}' -f $Masks[$sid].allow, $Masks[$sid].deny
        }
    }
    return $writers
}

function Expand-RulePath {
    # The folders a rule path starts in, with this host's variables (what the planner's literal_folder gives).
    param([string]$RulePath, [System.Collections.Generic.List[string]]$Errors)
    $spellings = @($RulePath)
    if ($RulePath -match '^(%[^%\\]*%)(.*)$') {
        $name = $Matches[1].ToUpperInvariant()
        $rest = $Matches[2]
        if (-not $variables.ContainsKey($name)) {
            $Errors.Add("${RulePath}: $name is not a variable AppLocker expands")
            return , @()
        }
        if ($variables[$name].Count -eq 0) {
            $Errors.Add("${RulePath}: $name has no folder on this host (removable media are writable by their users)")
            return , @()
        }
        $spellings = @($variables[$name] | ForEach-Object -Process { $_ + $rest })
    }
    $folders = [System.Collections.Generic.List[string]]::new()
    foreach ($spelling in $spellings) {
        $head = $spelling.Split([char]'*')[0]
        $cut = $head.LastIndexOf([char]'\')
        if ($cut -lt 0) {
            $Errors.Add("${RulePath}: $spelling names no folder")
            continue
        }
        $folder = $head.Substring(0, $cut)
        if ($folder.EndsWith(':')) {
            $folder += '\'
        }
        if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
            $Errors.Add("${folder}: does not exist; whoever can create it could run what the rule allows from it")
            continue
        }
        if (-not $folders.Contains($folder)) {
            $folders.Add($folder)
        }
    }
    return , $folders.ToArray()
}

$folders = [System.Collections.Generic.List[object]]::new()
$visited = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
$roots = [System.Collections.Generic.List[object]]::new()
$truncated = $false
foreach ($rulePath in $module.Params.scan_roots) {
    $errors = [System.Collections.Generic.List[string]]::new()
    $extra = 0
    if ($redirected) {
        $errors.Add('the probe ran in a 32-bit PowerShell on a 64-bit Windows: System32 reads are redirected')
    }
    $directories = Expand-RulePath -RulePath $rulePath -Errors $errors
    if ($truncated) {
        $errors.Add("${rulePath}: not scanned, the folder limit ($($module.Params.max_folders)) was reached")
    }
    else {
        $stack = [System.Collections.Generic.Stack[object]]::new()
        foreach ($directory in $directories) {
            $stack.Push(@{ folder = [System.IO.DirectoryInfo]::new($directory); above = $null })
        }
        while ($stack.Count -gt 0) {
            $item = $stack.Pop()
            $folder = $item.folder
            if (-not $visited.Add($folder.FullName)) {
                continue
            }
            if ($visited.Count -gt $module.Params.max_folders) {
                $truncated = $true
                $errors.Add("${rulePath}: stopped at $($folder.FullName), the folder limit ($($module.Params.max_folders)) was reached")
                break
            }
            $above = $item.above
            try {
                $masks = Get-FolderGrantee -Folder $folder
                $writers = Get-Writer -Masks $masks
                $covered = $null -ne $above -and $writers.Count -gt 0
                foreach ($sid in $writers.Keys) {
                    if ($null -eq $above -or $above[$sid] -ne $writers[$sid]) {
                        $covered = $false
                    }
                }
                if ($writers.Count -gt 0 -and -not $covered) {
                    $grantees = foreach ($sid in ($masks.Keys | Sort-Object)) {
                        @{ sid = $sid; name = Get-AccountName -Sid $sid; allow_mask = $masks[$sid].allow; deny_mask = $masks[$sid].deny }
                    }
                    $folders.Add(@{ path = $folder.FullName; grantees = @($grantees) })
                    $above = $writers
                }
                foreach ($child in $folder.GetDirectories()) {
                    if (($child.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -eq 0) {
                        $stack.Push(@{ folder = $child; above = $above })
                    }
                }
            }
            catch {
                if ($errors.Count -lt $module.Params.max_errors) {
                    $errors.Add("$($folder.FullName): $($_.Exception.Message)")
                }
                else {
                    $extra += 1
                }
            }
        }
    }
    if ($extra -gt 0) {
        $errors.Add("and $extra more errors")
    }
    $roots.Add(@{ rule_path = $rulePath; directories = @($directories); complete = ($errors.Count -eq 0 -and -not $truncated); errors = @($errors) })
}

$computer = [Environment]::GetEnvironmentVariable('COMPUTERNAME')
$currentVersion = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$module.Result.probe = @{
    concern = 'applocker'
    probe_version = 1
    host = @{
        computer_name = [string]$computer
        os_version = [Environment]::OSVersion.Version.ToString()
        os_name = [string](Get-ItemProperty -LiteralPath $currentVersion -ErrorAction SilentlyContinue).ProductName
    }
    policy = $policy
    service = $service
    eventlogs = @($eventlogs)
    writable_scan = @{
        variables = $variables
        roots = @($roots)
        folders = @($folders | Sort-Object -Property { $_.path })
        truncated = $truncated
        scanned_folders = $visited.Count
    }
}
$module.Result.changed = $false
$module.ExitJson()
