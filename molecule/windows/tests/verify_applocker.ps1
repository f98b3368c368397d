# Read by tests/test_real_host.py and run on the real Windows host through testinfra's
# WinRM backend (powershell -EncodedCommand): what an operator would check by hand,
# independent of the role's own probe module. Prints one JSON object.
$ErrorActionPreference = 'Stop'
Import-Module -Name AppLocker
$result = [ordered]@{ policy = [string](Get-AppLockerPolicy -Local -Xml); service = $null; channels = @() }
$service = Get-CimInstance -ClassName Win32_Service -Filter "Name = 'AppIDSvc'"
if ($null -ne $service) {
    $result.service = [ordered]@{ state = $service.State; start_mode = $service.StartMode }
}
foreach ($name in @('EXE and DLL', 'MSI and Script', 'Packaged app-Deployment', 'Packaged app-Execution')) {
    $log = Get-WinEvent -ListLog "Microsoft-Windows-AppLocker/$name" -ErrorAction SilentlyContinue
    if ($null -ne $log) {
        $result.channels += [ordered]@{ name = $log.LogName; max_size = $log.MaximumSizeInBytes }
    }
}
ConvertTo-Json -InputObject $result -Depth 4 -Compress
