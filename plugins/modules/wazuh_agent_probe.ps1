#!powershell

# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Read-only: reports the Wazuh agent's state in one round trip for the controller-side planner
# (plugins/module_utils/_wazuh_agent_plan.py, PROBE_SHAPE). Never changes anything, and never returns
# a key of client.keys or the content of the enrollment password file.

$spec = @{
    options = @{
        install_dir = @{ type = 'str'; default = '' }
        service_name = @{ type = 'str'; default = 'WazuhSvc' }
        product_name = @{ type = 'str'; default = 'Wazuh Agent' }
        max_conf_bytes = @{ type = 'int'; default = 1048576 }
        wait_connected = @{ type = 'int'; default = 0 }
        log_lines = @{ type = 'int'; default = 0 }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$namePattern = '^[A-Za-z0-9_.-]{1,64}$'
if ($module.Params.service_name -notmatch $namePattern) {
    $module.FailJson("service name '$($module.Params.service_name)' may hold only letters, digits, '.', '_' and '-'")
}
$adminSids = @('S-1-5-18', 'S-1-5-32-544')

function Get-RegistryValue {
    param([string]$Path, [string]$Name)
    if (-not (Test-Path -LiteralPath $Path)) {
        return $null
    }
    $item = Get-ItemProperty -LiteralPath $Path -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $item) {
        return $null
    }
    return $item.$Name
}

function Get-Sha256 {
    param([string]$Path)
    if (-not $Path -or -not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        return $null
    }
    return (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
}

function Read-SharedText {
    # The agent may be writing the file: open it allowing that, and report nothing rather than fail.
    param([string]$Path, [int]$Limit)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        return $null
    }
    try {
        $stream = [System.IO.File]::Open($Path, 'Open', 'Read', 'ReadWrite')
        try {
            $length = [int][Math]::Min($stream.Length, $Limit)
            $start = $stream.Length - $length
            $null = $stream.Seek($start, 'Begin')
            $buffer = [byte[]]::new($length)
            $read = $stream.Read($buffer, 0, $length)
            return [System.Text.Encoding]::UTF8.GetString($buffer, 0, $read)
        }
        finally {
            $stream.Dispose()
        }
    }
    catch {
        return $null
    }
}

function Get-FileReport {
    # Path, existence, size, SHA256 and (when small enough) the bytes as base64.
    param([string]$Path, [int]$Limit)
    $report = @{ path = $Path; exists = $false; size = $null; sha256 = $null; content_b64 = $null }
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        $item = Get-Item -LiteralPath $Path
        $report.exists = $true
        $report.size = $item.Length
        $report.sha256 = Get-Sha256 -Path $Path
        if ($item.Length -le $Limit) {
            $report.content_b64 = [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($item.FullName))
        }
    }
    return $report
}

function Get-ClientKey {
    # id, name and ip of each entry; the key itself never leaves the host.
    param([string]$Path)
    $report = @{ path = $Path; exists = $false; entries = @(); malformed = 0 }
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        return $report
    }
    $report.exists = $true
    $text = Read-SharedText -Path $Path -Limit 1048576
    $entries = [System.Collections.Generic.List[object]]::new()
    foreach ($line in ($text -split "`r?`n")) {
        $trimmed = $line.Trim()
        if (-not $trimmed -or $trimmed.StartsWith('#')) {
            continue
        }
        $fields = $trimmed -split '\s+'
        if ($fields.Count -eq 4) {
            $entries.Add(@{ id = $fields[0]; name = $fields[1]; ip = $fields[2] })
        }
        else {
            $report.malformed++
        }
    }
    $report.entries = @($entries)
    return $report
}

function Get-PasswordFileReport {
    # Who besides SYSTEM and Administrators may open the enrollment password file (never its content).
    param([string]$Path)
    $report = @{ path = $Path; exists = $false; protected = $null; other_access = @() }
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        return $report
    }
    $report.exists = $true
    $acl = Get-Acl -LiteralPath $Path
    $report.protected = [bool]$acl.AreAccessRulesProtected
    $others = [System.Collections.Generic.List[string]]::new()
    foreach ($rule in $acl.Access) {
        if ($rule.AccessControlType -ne 'Allow') {
            continue
        }
        $sid = $null
        try {
            $sid = $rule.IdentityReference.Translate([System.Security.Principal.SecurityIdentifier]).Value
        }
        catch {
            $sid = $rule.IdentityReference.Value
        }
        if ($adminSids -notcontains $sid) {
            $others.Add(('{0} ({1})' -f $rule.IdentityReference.Value, $rule.FileSystemRights))
        }
    }
    $report.other_access = @($others)
    return $report
}

function Get-ServiceStartTime {
    # When the agent's running process started (UTC), or $null when it does not run.
    param([string]$Name)
    $cim = Get-CimInstance -ClassName Win32_Service -Filter "Name='$Name'" -ErrorAction SilentlyContinue
    if ($null -eq $cim -or -not $cim.ProcessId) {
        return $null
    }
    $process = Get-Process -Id $cim.ProcessId -ErrorAction SilentlyContinue
    if ($null -eq $process) {
        return $null
    }
    try {
        return $process.StartTime.ToUniversalTime()
    }
    catch {
        return $null
    }
}

function Get-AgentState {
    # The state file's status; written_after_start says whether the running process wrote it (a file from
    # before a restart still says what the previous process saw).
    param([string]$Path, [object]$Since)
    $text = Read-SharedText -Path $Path -Limit 65536
    $status = $null
    if ($text -match "(?m)^status='([a-z]+)'") {
        $status = $Matches[1]
    }
    $exists = Test-Path -LiteralPath $Path -PathType Leaf
    $written = $null
    if ($exists -and $null -ne $Since) {
        $written = (Get-Item -LiteralPath $Path).LastWriteTimeUtc -gt $Since
    }
    return @{ path = $Path; exists = $exists; status = $status; text = $text; written_after_start = $written }
}

$environmentKey = 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
$currentVersionKey = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$hostInfo = @{
    architecture = [string](Get-RegistryValue -Path $environmentKey -Name 'PROCESSOR_ARCHITECTURE')
    computer_name = [string]$env:COMPUTERNAME
    os_version = [Environment]::OSVersion.Version.ToString()
    os_name = [string](Get-RegistryValue -Path $currentVersionKey -Name 'ProductName')
}

# The MSI registers under the 32-bit view on 64-bit Windows; look in both.
$product = @{ name = $null; version = $null; product_code = $null; install_location = $null }
$uninstallKeys = @(
    'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall',
    'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'
)
foreach ($root in $uninstallKeys) {
    if ($product.name -or -not (Test-Path -LiteralPath $root)) {
        continue
    }
    foreach ($key in Get-ChildItem -LiteralPath $root) {
        $values = Get-ItemProperty -LiteralPath $key.PSPath -ErrorAction SilentlyContinue
        if ($null -ne $values -and $values.DisplayName -eq $module.Params.product_name) {
            $product.name = [string]$values.DisplayName
            $product.version = [string]$values.DisplayVersion
            $product.install_location = [string]$values.InstallLocation
            if ($key.PSChildName -match '^\{[0-9A-Fa-f-]{36}\}$') {
                $product.product_code = $key.PSChildName.ToUpperInvariant()
            }
            break
        }
    }
}

$servicesKey = Join-Path -Path 'HKLM:\SYSTEM\CurrentControlSet\Services' -ChildPath $module.Params.service_name
$startModes = @{ 0 = 'boot'; 1 = 'system'; 2 = 'auto'; 3 = 'manual'; 4 = 'disabled' }
$service = @{ name = $module.Params.service_name; exists = $false; state = $null; start_mode = $null; path = $null }
if (Test-Path -LiteralPath $servicesKey) {
    $service.exists = $true
    $service.path = [string](Get-RegistryValue -Path $servicesKey -Name 'ImagePath')
    $start = Get-RegistryValue -Path $servicesKey -Name 'Start'
    if ($null -ne $start -and $startModes.ContainsKey([int]$start)) {
        $service.start_mode = $startModes[[int]$start]
    }
    $svc = Get-Service -Name $module.Params.service_name -ErrorAction SilentlyContinue
    if ($null -ne $svc) {
        $service.state = $svc.Status.ToString().ToLowerInvariant()
    }
}

$installDir = $module.Params.install_dir
if (-not $installDir -and $product.install_location) {
    $installDir = $product.install_location
}
if (-not $installDir) {
    $programFiles = [Environment]::GetEnvironmentVariable('ProgramFiles(x86)')
    if (-not $programFiles) {
        $programFiles = $env:ProgramFiles
    }
    $installDir = Join-Path -Path $programFiles -ChildPath 'ossec-agent'
}
$installDir = $installDir.TrimEnd('\')

$limit = $module.Params.max_conf_bytes
$keysPath = Join-Path -Path $installDir -ChildPath 'client.keys'
$statePath = Join-Path -Path $installDir -ChildPath 'wazuh-agent.state'
$clientKeys = Get-ClientKey -Path $keysPath
$agentState = Get-AgentState -Path $statePath -Since (Get-ServiceStartTime -Name $module.Params.service_name)
$waited = 0
$deadline = [DateTime]::UtcNow.AddSeconds($module.Params.wait_connected)
while (($agentState.status -ne 'connected' -or $agentState.written_after_start -eq $false -or
        $clientKeys.entries.Count -eq 0) -and [DateTime]::UtcNow -lt $deadline) {
    Start-Sleep -Seconds 2
    $waited += 2
    $clientKeys = Get-ClientKey -Path $keysPath
    $agentState = Get-AgentState -Path $statePath -Since (Get-ServiceStartTime -Name $module.Params.service_name)
}

$log = @()
if ($module.Params.log_lines -gt 0) {
    $tail = Read-SharedText -Path (Join-Path -Path $installDir -ChildPath 'ossec.log') -Limit 262144
    if ($tail) {
        $log = @(($tail -split "`r?`n") | Where-Object { $_ -match '(ERROR|WARNING|CRITICAL):' } |
                Select-Object -Last $module.Params.log_lines)
    }
}

$module.Result.probe = @{
    concern = 'wazuh_agent'
    probe_version = 1
    host = $hostInfo
    installed = ($null -ne $product.name)
    product = $product
    install_dir = $installDir
    service = $service
    ossec_conf = Get-FileReport -Path (Join-Path -Path $installDir -ChildPath 'ossec.conf') -Limit $limit
    client_keys = $clientKeys
    password_file = Get-PasswordFileReport -Path (Join-Path -Path $installDir -ChildPath 'authd.pass')
    agent_state = $agentState
    shared_conf = Get-FileReport -Path (Join-Path -Path $installDir -ChildPath 'shared\agent.conf') -Limit $limit
    log = $log
    waited_seconds = $waited
}
$module.Result.changed = $false
$module.ExitJson()
