#!powershell

# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Read-only: reports Sysmon's state in one round trip for the controller-side planner
# (plugins/module_utils/_sysmon_plan.py, PROBE_SHAPE). Never changes anything.

$spec = @{
    options = @{
        service_names = @{ type = 'list'; elements = 'str'; default = @('Sysmon64', 'Sysmon64a', 'Sysmon') }
        driver_name = @{ type = 'str'; default = 'SysmonDrv' }
        channel = @{ type = 'str'; default = 'Microsoft-Windows-Sysmon/Operational' }
        managed_config = @{ type = 'str' }
        read_config = @{ type = 'bool'; default = $false }
        max_config_bytes = @{ type = 'int'; default = 4194304 }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$servicesKey = 'HKLM:\SYSTEM\CurrentControlSet\Services'
$namePattern = '^[A-Za-z0-9_.-]{1,64}$'

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

function ConvertTo-ExecutablePath {
    # ImagePath may be quoted, carry arguments, or use %SystemRoot% / \SystemRoot\ forms.
    param([string]$ImagePath)
    if (-not $ImagePath) {
        return $null
    }
    $text = [Environment]::ExpandEnvironmentVariables($ImagePath.Trim())
    if ($text.StartsWith('"')) {
        $close = $text.IndexOf('"', 1)
        if ($close -gt 1) {
            $text = $text.Substring(1, $close - 1)
        }
        else {
            $text = $text.Trim('"')
        }
    }
    else {
        $end = $text.ToLowerInvariant().IndexOf('.exe')
        if ($end -ge 0) {
            $text = $text.Substring(0, $end + 4)
        }
    }
    if ($text.StartsWith('\SystemRoot\', [StringComparison]::OrdinalIgnoreCase)) {
        $text = Join-Path -Path $env:SystemRoot -ChildPath $text.Substring(12)
    }
    return $text
}

$startModes = @{ 0 = 'boot'; 1 = 'system'; 2 = 'auto'; 3 = 'manual'; 4 = 'disabled' }

foreach ($name in @($module.Params.service_names) + @($module.Params.driver_name)) {
    if ($name -notmatch $namePattern) {
        $module.FailJson("service or driver name '$name' may hold only letters, digits, '.', '_' and '-'")
    }
}

$environmentKey = 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
$currentVersionKey = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$hostInfo = @{
    architecture = [string](Get-RegistryValue -Path $environmentKey -Name 'PROCESSOR_ARCHITECTURE')
    process_architecture = [string]$env:PROCESSOR_ARCHITECTURE
    computer_name = [string]$env:COMPUTERNAME
    os_version = [Environment]::OSVersion.Version.ToString()
    os_name = [string](Get-RegistryValue -Path $currentVersionKey -Name 'ProductName')
}

$service = @{ name = $null; state = $null; start_mode = $null; path = $null }
foreach ($name in $module.Params.service_names) {
    $key = Join-Path -Path $servicesKey -ChildPath $name
    if (Test-Path -LiteralPath $key) {
        $service.name = $name
        $service.path = ConvertTo-ExecutablePath -ImagePath (Get-RegistryValue -Path $key -Name 'ImagePath')
        $start = Get-RegistryValue -Path $key -Name 'Start'
        if ($null -ne $start -and $startModes.ContainsKey([int]$start)) {
            $service.start_mode = $startModes[[int]$start]
        }
        $svc = Get-Service -Name $name -ErrorAction SilentlyContinue
        if ($null -ne $svc) {
            $service.state = $svc.Status.ToString().ToLowerInvariant()
        }
        break
    }
}

$binary = @{ path = $service.path; exists = $false; file_version = $null; version = $null; sha256 = $null }
if ($binary.path -and (Test-Path -LiteralPath $binary.path -PathType Leaf)) {
    $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($binary.path)
    $binary.exists = $true
    $binary.file_version = [string]$info.FileVersion
    $binary.version = '{0}.{1}' -f $info.FileMajorPart, $info.FileMinorPart
    $binary.sha256 = Get-Sha256 -Path $binary.path
}

$driverKey = Join-Path -Path $servicesKey -ChildPath $module.Params.driver_name
$parametersKey = Join-Path -Path $driverKey -ChildPath 'Parameters'
$driver = @{ name = $module.Params.driver_name; installed = (Test-Path -LiteralPath $driverKey); options = $null }
$configFile = Get-RegistryValue -Path $parametersKey -Name 'ConfigFile'
$hashing = Get-RegistryValue -Path $parametersKey -Name 'HashingAlgorithm'
$driver.options = Get-RegistryValue -Path $parametersKey -Name 'Options'
if ($null -ne $driver.options) {
    $driver.options = [int64]$driver.options
}

$config = @{
    file = $null
    file_exists = $false
    file_sha256 = $null
    file_size = $null
    hash = $null
    hashing_algorithm = $null
}
if ($configFile) {
    $config.file = [string]$configFile
}
$configHash = Get-RegistryValue -Path $parametersKey -Name 'ConfigHash'
if ($configHash) {
    $config.hash = [string]$configHash
}
if ($null -ne $hashing) {
    $config.hashing_algorithm = [int64]$hashing
}
if ($config.file -and (Test-Path -LiteralPath $config.file -PathType Leaf)) {
    $file = Get-Item -LiteralPath $config.file
    $config.file_exists = $true
    $config.file_size = $file.Length
    $config.file_sha256 = Get-Sha256 -Path $config.file
    if ($module.Params.read_config -and $file.Length -le $module.Params.max_config_bytes) {
        $config.text = [System.IO.File]::ReadAllText($file.FullName)
    }
}

$managed = @{ path = $module.Params.managed_config; exists = $false; sha256 = $null }
if ($managed.path -and (Test-Path -LiteralPath $managed.path -PathType Leaf)) {
    $managed.exists = $true
    $managed.sha256 = Get-Sha256 -Path $managed.path
}

$eventlog = @{ channel = $module.Params.channel; exists = $false; max_size = $null; enabled = $null }
try {
    $log = [System.Diagnostics.Eventing.Reader.EventLogConfiguration]::new($module.Params.channel)
    $eventlog.exists = $true
    $eventlog.max_size = [int64]$log.MaximumSizeInBytes
    $eventlog.enabled = [bool]$log.IsEnabled
}
catch {
    # .NET exceptions from a constructor arrive wrapped in a MethodInvocationException.
    $inner = $_.Exception
    while ($null -ne $inner.InnerException) {
        $inner = $inner.InnerException
    }
    if ($inner -isnot [System.Diagnostics.Eventing.Reader.EventLogNotFoundException]) {
        $module.FailJson("cannot read the configuration of event log $($module.Params.channel): $($inner.Message)", $_)
    }
}

$module.Result.probe = @{
    concern = 'sysmon'
    probe_version = 1
    host = $hostInfo
    installed = ($null -ne $service.name)
    service = $service
    binary = $binary
    driver = $driver
    config = $config
    managed_config = $managed
    eventlog = $eventlog
}
$module.Result.changed = $false
$module.ExitJson()
